//! `update`: the one place state changes. Pure: no I/O, no clock (the time comes in `Msg::Tick`);
//! it returns the Commands the loop must perform.

use super::command::Command;
use super::keys;
use super::msg::{Action, Msg, Preview};
use super::state::*;
use crate::observe::sanitize;
use crate::pipeline::{RunEvent, RunState};
use crate::project::PhaseId;
use crate::storage::Entry;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub fn update(s: &mut AppState, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => on_key(s, k),
        Msg::Resize(w, h) => {
            let before = s.size;
            s.size = (w, h);
            // a plot is made for an area (an image, a field averaged to its cells, a series
            // decimated to the chart): a new size, made again (once, not per frame)
            if s.view != View::Plots || before == s.size {
                return vec![];
            }
            replot(s)
        }
        Msg::PlotLines { req, lines } => {
            if req == s.plots.req {
                s.plots.lines = Some(*lines);
            }
            vec![]
        }
        Msg::PlotImage { req, result } => {
            if req == s.plots.req {
                match result {
                    Ok(img) => s.plots.image = Some(img),
                    Err(e) => {
                        s.plots.image = None;
                        set_status(s, Level::Warn, format!("{e}: drawn with characters"));
                    }
                }
            }
            vec![]
        }
        Msg::Tick(now) => {
            s.now = now;
            s.spinner = s.spinner.wrapping_add(1);
            if s.status
                .as_ref()
                .is_some_and(|st| st.level == Level::Info && (now - st.at).num_seconds() >= 6)
            {
                s.status = None;
            }
            let mut c = super::jobs::on_tick(s);
            c.extend(super::jobs::on_log_tick(s));
            c.extend(super::clusters::on_tick(s));
            c.extend(super::watch::on_tick(s));
            c.extend(super::plots::on_tick(s));
            c
        }
        Msg::CloudMetrics(r) => super::watch::on_loaded(s, r),
        Msg::CloudGroups(r) => super::watch::on_groups(s, r),
        Msg::CloudStreams { group, result } => super::watch::on_streams(s, group, result),
        Msg::AwsRate(r) => {
            s.aws_rate = r;
            vec![]
        }
        Msg::Run(ev) => on_run_event(s, ev),
        Msg::JobsLoaded { result, api_calls } => super::jobs::on_loaded(s, result, api_calls),
        Msg::JobLog { id, result } => super::jobs::on_log(s, id, result),
        Msg::ClustersLoaded(r) => super::clusters::on_loaded(s, r),
        Msg::RayLoaded { result, requests } => super::clusters::on_ray_loaded(s, result, requests),
        Msg::MetricList { namespace, result } => super::watch::on_metric_list(s, namespace, result),
        Msg::MetricsAdded(r) => super::watch::on_metrics_added(s, r),
        Msg::HeadPicked { result, project } => {
            if let Some(p) = project {
                s.project = Ok(*p);
            }
            super::clusters::on_picked(s, result)
        }
        Msg::Partitions(r) => {
            match r {
                Ok(lines) => s.jobs.partitions = Some(lines),
                Err(e) => set_status(s, Level::Error, sanitize(&e).into_owned()),
            }
            vec![]
        }
        Msg::RunsLoaded { runs, skipped } => {
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
                    cmds.extend(select_run(s, id));
                }
            }
            cmds
        }
        Msg::LogLines { run_id, lines } => {
            if s.logs.run_id.as_deref() == Some(&run_id) {
                super::logs::ingest(s, lines);
            }
            vec![]
        }
        Msg::Buckets(r) => {
            if s.datasets.bucket.is_none() {
                s.datasets.loading = false;
                match r {
                    Ok(bs) => {
                        s.datasets.error = None;
                        s.datasets.rows = bs
                            .into_iter()
                            .map(|b| DsRow {
                                modified: b.created,
                                ..DsRow::new(RowKind::Bucket, b.name, "")
                            })
                            .collect();
                    }
                    Err(e) => s.datasets.error = Some(e),
                }
            }
            vec![]
        }
        Msg::StorePage { req, entries, next } => {
            if req != s.datasets.req {
                return vec![];
            }
            let done = next.is_none();
            s.datasets.next = next;
            let first = s.datasets.rows.is_empty();
            let prefix = s.datasets.prefix.clone();
            // rows share one copy of each storage class
            let mut class: Option<std::sync::Arc<str>> = None;
            s.datasets.rows.reserve(entries.len());
            for e in entries {
                let row = match e {
                    Entry::Prefix { prefix: p } => DsRow::new(RowKind::Prefix, p, &prefix),
                    Entry::Object(o) => DsRow {
                        size: Some(o.size),
                        modified: o.modified,
                        class: o.storage_class.as_deref().map(|c| match &class {
                            Some(k) if &**k == c => k.clone(),
                            _ => {
                                let k: std::sync::Arc<str> = sanitize(c).into();
                                class = Some(k.clone());
                                k
                            }
                        }),
                        etag: o.etag.as_deref().map(ETag::parse),
                        ..DsRow::new(RowKind::Object, o.key, &prefix)
                    },
                };
                s.datasets.rows.push(row);
            }
            s.datasets.loading = !done;
            if first {
                preview_selected(s)
            } else {
                vec![]
            }
        }
        Msg::StoreError { req, error } => {
            if req == s.datasets.req {
                s.datasets.loading = false;
                let more = if s.datasets.rows.is_empty() {
                    "R retries"
                } else {
                    "R continues from here"
                };
                s.datasets.error = Some(format!("{} — {more}", sanitize(&error)));
            }
            vec![]
        }
        Msg::TransferProgress { id, progress } => {
            super::transfers::on_progress(s, id, progress);
            vec![]
        }
        Msg::TransferEnded { id, state } => super::transfers::on_ended(s, id, state),
        Msg::Preview { key, result } => {
            s.datasets.preview = Some((key, result));
            vec![]
        }
        Msg::PlotFiles { req, files } => {
            if req != s.plots.req {
                return vec![];
            }
            let at_end = s.plots.files.is_empty() || s.plots.snapshot + 1 >= s.plots.files.len();
            s.plots.files = files;
            if s.plots.files.is_empty() {
                s.plots.loading = false;
                s.plots.data = None;
                s.plots.error =
                    Some("no output yet: run the pipeline (r in the Pipeline view)".into());
                return vec![];
            }
            // stay on the newest snapshot while following, else keep the index
            s.plots.snapshot = if at_end {
                s.plots.files.len() - 1
            } else {
                s.plots.snapshot.min(s.plots.files.len() - 1)
            };
            load_plot(s)
        }
        Msg::PlotLoaded { req, result } => {
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
            vec![]
        }
        Msg::MetricsLoaded {
            run_id,
            phase,
            samples,
        } => {
            if s.metrics.run_id.as_deref() == Some(&run_id) {
                s.metrics.samples.retain(|(p, _)| *p != phase);
                s.metrics
                    .samples
                    .extend(samples.into_iter().map(|x| (phase, x)));
                s.metrics.samples.sort_by_key(|x| x.1.at);
            }
            vec![]
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

pub(crate) fn set_status(s: &mut AppState, level: Level, text: String) {
    s.status = Some(Status {
        text,
        level,
        at: s.now,
    });
}

fn on_run_event(s: &mut AppState, ev: RunEvent) -> Vec<Command> {
    match ev {
        RunEvent::Updated(run) => {
            let run = *run;
            let mut cmds = vec![];
            let prev = s.runs.iter().position(|r| r.id == run.id);
            let old = prev.map(|i| s.runs[i].clone());
            match prev {
                Some(i) => s.runs[i] = run.clone(),
                None => {
                    s.runs.insert(0, run.clone());
                    cmds.extend(select_run(s, run.id.clone()));
                }
            }
            // announce phase transitions
            for p in &run.phases {
                let before = old.as_ref().and_then(|o| o.phase(p.phase)).map(|q| q.state);
                if before != Some(p.state) && p.state.is_terminal() {
                    let dur = p
                        .duration(s.now)
                        .map(crate::pipeline::fmt_duration)
                        .unwrap_or_default();
                    let (lvl, extra) = match p.state {
                        RunState::Succeeded => (Level::Info, String::new()),
                        _ => (
                            Level::Error,
                            p.message
                                .as_deref()
                                .map(|m| format!(": {}", sanitize(m)))
                                .unwrap_or_default(),
                        ),
                    };
                    if !(p.state == RunState::Cancelled && p.started.is_none()) {
                        let text = format!("{} {} {dur}{extra}", p.phase, p.state);
                        // the end of a phase rings the bell and, where the terminal shows them,
                        // raises a desktop notification (OSC 9)
                        cmds.push(Command::Notify {
                            text: format!("tandem: {} {text}", run.project),
                        });
                        set_status(s, lvl, text);
                    }
                    if p.phase == PhaseId::Solve
                        && p.state == RunState::Succeeded
                        && s.current.as_deref() == Some(&run.id)
                    {
                        cmds.extend(refresh_plots(s));
                    }
                }
            }
            cmds
        }
        RunEvent::Metric {
            run_id,
            phase,
            sample,
        } => {
            if s.metrics.run_id.as_deref() == Some(&run_id) {
                if s.metrics.samples.len() >= MAX_SAMPLES {
                    s.metrics.samples.remove(0);
                }
                s.metrics.samples.push((phase, sample));
            }
            // snapshots land while the solver runs: follow them
            if phase == PhaseId::Solve
                && s.view == View::Plots
                && s.current.as_deref() == Some(&run_id)
                && !s.plots.loading
            {
                return refresh_plots(s);
            }
            vec![]
        }
    }
}

/// Make `id` the run the views show: logs, metrics and plots follow it.
fn select_run(s: &mut AppState, id: String) -> Vec<Command> {
    s.current = Some(id.clone());
    s.logs = LogsState {
        run_id: Some(id.clone()),
        wrap: s.logs.wrap,
        buf: crate::observe::logbuf::LogBuffer::new(s.logs.buf.cap()),
        ..LogsState::default()
    };
    // the CloudWatch side belongs to the target, not the run: it stays
    s.metrics.run_id = Some(id.clone());
    s.metrics.samples.clear();
    s.plots.run_id = Some(id.clone());
    s.plots.files.clear();
    s.plots.data = None;
    s.plots.error = None;
    let mut cmds = vec![
        Command::Tail { run_id: id.clone() },
        Command::LoadMetrics { run_id: id },
    ];
    cmds.extend(refresh_plots(s));
    cmds
}

fn refresh_plots(s: &mut AppState) -> Vec<Command> {
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
    }]
}

/// `e`: the plot on screen (its current snapshot) to a PNG in the download directory.
fn export_plot(s: &mut AppState) -> Vec<Command> {
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
    let out = format!("{}{name}-{run_id}{vs}-{stem}.png", s.download_dir);
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
    }]
}

pub(crate) fn load_plot(s: &mut AppState) -> Vec<Command> {
    let (Some(run_id), Some(file)) = (
        s.plots.run_id.clone(),
        s.plots.files.get(s.plots.snapshot).cloned(),
    ) else {
        return vec![];
    };
    s.plots.req += 1;
    s.plots.loading = true;
    let heatmap = super::plots::is_heatmap(s);
    let cells = heatmap.then(|| crate::views::plot_cells(s.size));
    let chart = (!heatmap).then(|| crate::views::plots::chart_width(s.size.0));
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
pub(crate) fn replot(s: &mut AppState) -> Vec<Command> {
    match &s.plots.data {
        Some(d) if d.is_field() => load_plot(s),
        Some(_) => decimate_lines(s),
        None => vec![],
    }
}

/// The loaded series decimated again for the window and the chart's width now, off the UI
/// task; nothing when it is decimated so already.
fn decimate_lines(s: &mut AppState) -> Vec<Command> {
    let chart = crate::views::plots::chart_width(s.size.0);
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

fn preview_selected(s: &mut AppState) -> Vec<Command> {
    let Some(bucket) = s.datasets.bucket.clone() else {
        return vec![];
    };
    let vis = s.datasets.visible();
    match vis.get(s.datasets.selected) {
        Some(r) if r.kind == RowKind::Object => {
            let key = r.key.clone();
            if s.datasets
                .preview
                .as_ref()
                .is_some_and(|(k, _)| **k == *key)
            {
                return vec![];
            }
            vec![Command::Preview {
                bucket,
                key: key.into(),
            }]
        }
        _ => {
            s.datasets.preview = None;
            vec![]
        }
    }
}

/// List the current location of the Datasets view from the start.
pub fn list_datasets(s: &mut AppState) -> Vec<Command> {
    s.datasets.req += 1;
    s.datasets.rows.clear();
    s.datasets.selected = 0;
    s.datasets.preview = None;
    s.datasets.error = None;
    s.datasets.loading = true;
    s.datasets.next = None;
    match s.datasets.bucket.clone() {
        None => vec![Command::CancelList, Command::ListBuckets],
        Some(b) => vec![
            Command::CancelList,
            Command::List {
                req: s.datasets.req,
                bucket: b,
                prefix: s.datasets.prefix.clone(),
                token: None,
            },
        ],
    }
}

/// `R` in Datasets: a listing that stopped part-way (an error, or Esc) continues from the page it
/// stopped before, keeping the rows it has; a complete one is listed again.
fn relist_datasets(s: &mut AppState) -> Vec<Command> {
    match (s.datasets.bucket.clone(), s.datasets.next.clone()) {
        (Some(bucket), Some(token)) if !s.datasets.loading && !s.datasets.rows.is_empty() => {
            s.datasets.req += 1;
            s.datasets.error = None;
            s.datasets.loading = true;
            vec![Command::List {
                req: s.datasets.req,
                bucket,
                prefix: s.datasets.prefix.clone(),
                token: Some(token),
            }]
        }
        _ => list_datasets(s),
    }
}

fn on_key(s: &mut AppState, k: KeyEvent) -> Vec<Command> {
    if k.kind == KeyEventKind::Release {
        return vec![];
    }
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return act(s, Action::Quit);
    }
    if let Some(p) = s.popup.clone() {
        return on_popup_key(s, p, k);
    }
    if let Some(p) = s.prompt.clone() {
        if let Prompt::Path { purpose, text } = p {
            return super::transfers::on_path_key(s, purpose, text, k);
        }
        return on_prompt_key(s, p, k);
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
        if let Some(c) = super::watch::metric_browse_key(s, k) {
            return c;
        }
    }
    if s.view == View::Logs && s.logs.browse.is_some() {
        if let Some(c) = super::watch::browse_key(s, k) {
            return c;
        }
    }
    match keys::lookup(s.view, &k) {
        Some(a) => act(s, a),
        None => vec![],
    }
}

fn on_popup_key(s: &mut AppState, p: Popup, k: KeyEvent) -> Vec<Command> {
    match p {
        Popup::Help => {
            if matches!(
                k.code,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
            ) {
                s.popup = None;
            }
            vec![]
        }
        Popup::Confirm { action, .. } => match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                s.popup = None;
                confirmed(s, action)
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                s.popup = None;
                vec![]
            }
            _ => vec![],
        },
        Popup::Palette {
            mut query,
            mut selected,
        } => {
            let n = keys::palette_matches(&query).len();
            match k.code {
                KeyCode::Esc => {
                    s.popup = None;
                    return vec![];
                }
                KeyCode::Enter => {
                    s.popup = None;
                    return match keys::palette_matches(&query).into_iter().nth(selected) {
                        Some((_, a)) => act(s, a),
                        None => vec![],
                    };
                }
                KeyCode::Up => selected = selected.saturating_sub(1),
                KeyCode::Down => selected = (selected + 1).min(n.saturating_sub(1)),
                KeyCode::Backspace => {
                    query.pop();
                    selected = 0;
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    query.push(c);
                    selected = 0;
                }
                _ => {}
            }
            s.popup = Some(Popup::Palette { query, selected });
            vec![]
        }
    }
}

fn on_prompt_key(s: &mut AppState, p: Prompt, k: KeyEvent) -> Vec<Command> {
    let (mut text, is_search) = match p {
        Prompt::Filter(t) => (t, false),
        Prompt::Search(t) => (t, true),
        Prompt::Path { .. } => return vec![],
    };
    match k.code {
        KeyCode::Esc => {
            s.prompt = None;
            if !is_search {
                set_filter(s, String::new());
            }
            return vec![];
        }
        KeyCode::Enter => {
            s.prompt = None;
            if is_search {
                s.logs.search = (!text.is_empty()).then(|| text.clone());
                s.logs.hit = None;
                search_step(s, false);
            }
            return preview_if_datasets(s);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
    if is_search {
        s.prompt = Some(Prompt::Search(text));
    } else {
        set_filter(s, text.clone());
        s.prompt = Some(Prompt::Filter(text));
    }
    vec![]
}

fn preview_if_datasets(s: &mut AppState) -> Vec<Command> {
    if s.view == View::Datasets {
        preview_selected(s)
    } else {
        vec![]
    }
}

fn set_filter(s: &mut AppState, text: String) {
    match s.view {
        View::Datasets => {
            s.datasets.filter = text;
            s.datasets.selected = 0;
        }
        View::Runs => {
            s.runs_view.filter = text;
            s.runs_view.selected = 0;
        }
        View::Jobs => {
            s.jobs.filter = text;
            s.jobs.selected = 0;
        }
        View::Clusters => {
            s.clusters.filter = text;
            s.clusters.node = 0;
        }
        View::Logs => super::logs::set_filter(s, text),
        _ => {}
    }
}

/// Lines the log view has room for.
pub fn log_rows(s: &AppState) -> usize {
    (s.size.1 as usize).saturating_sub(6).max(1)
}

fn list_rows(s: &AppState) -> usize {
    (s.size.1 as usize).saturating_sub(7).max(1)
}

fn confirmed(s: &mut AppState, a: Action) -> Vec<Command> {
    match a {
        Action::Overwrite(id) => super::transfers::restart(s, id, true),
        Action::CancelJob(id) => super::jobs::cancel(s, id),
        Action::UseNode { target, ssm } => vec![Command::UseNode { target, ssm }],
        Action::CancelTransfer(id) => vec![Command::CancelTransfer { id }],
        Action::Cancel => match s.active_run() {
            Some(r) => {
                let id = r.id.clone();
                set_status(s, Level::Warn, format!("cancelling {id}…"));
                vec![Command::CancelRun { run_id: id }]
            }
            None => vec![],
        },
        _ => vec![],
    }
}

fn start(s: &mut AppState, phases: Vec<PhaseId>) -> Vec<Command> {
    if let Some(r) = s.active_run() {
        let id = r.id.clone();
        set_status(
            s,
            Level::Warn,
            format!("run {id} is still going: c cancels it"),
        );
        return vec![];
    }
    let names: Vec<&str> = phases.iter().map(|p| p.as_str()).collect();
    set_status(
        s,
        Level::Info,
        format!("starting {} on {}", names.join(" → "), s.target),
    );
    s.view = View::Pipeline;
    vec![Command::StartRun { phases }]
}

pub(crate) fn move_sel(sel: &mut usize, len: usize, a: &Action, page: usize) {
    if len == 0 {
        *sel = 0;
        return;
    }
    *sel = match a {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (*sel + 1).min(len - 1),
        Action::PageUp => sel.saturating_sub(page),
        Action::PageDown => (*sel + page).min(len - 1),
        Action::Top => 0,
        Action::Bottom => len - 1,
        _ => *sel,
    }
    .min(len - 1);
}

fn show(s: &mut AppState, v: View) -> Vec<Command> {
    if s.view != v {
        s.history.push(s.view);
        if s.history.len() > 32 {
            s.history.remove(0);
        }
        s.view = v;
    }
    let mut cmds = vec![];
    match v {
        View::Datasets if s.datasets.rows.is_empty() && !s.datasets.loading => {
            if let Ok(p) = &s.project {
                if s.datasets.bucket.is_none() && s.datasets.error.is_none() {
                    s.datasets.bucket = Some(p.storage.bucket.clone());
                    s.datasets.prefix = if p.storage.prefix.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", p.storage.prefix)
                    };
                }
            }
            cmds.extend(list_datasets(s));
        }
        View::Plots if s.plots.data.is_none() && !s.plots.loading => cmds.extend(refresh_plots(s)),
        View::Jobs if !s.jobs.loading => cmds.extend(super::jobs::load(s)),
        View::Clusters if !s.clusters.loading && s.clusters.loaded_at.is_none() => {
            cmds.extend(super::clusters::load(s))
        }
        _ => {}
    }
    cmds
}

fn open_for_run(s: &mut AppState, v: View) -> Vec<Command> {
    let mut cmds = vec![];
    if s.view == View::Runs {
        let id = s
            .visible_runs()
            .get(s.runs_view.selected)
            .map(|r| r.id.clone());
        if let Some(id) = id {
            if s.current.as_deref() != Some(&id) {
                cmds.extend(select_run(s, id));
            }
        }
    }
    cmds.extend(show(s, v));
    cmds
}

/// Move to the next (or previous) search hit in the logs.
fn search_step(s: &mut AppState, backwards: bool) {
    let Some(q) = s.logs.search.clone() else {
        return;
    };
    let q = q.to_lowercase();
    let rows = log_rows(s) as u64;
    let from = s.logs.hit.unwrap_or(if backwards || s.logs.follow {
        s.logs.buf.end_seq()
    } else {
        s.logs.top
    });
    let matches = |l: &crate::observe::logbuf::LogLine| {
        super::logs::passes(s, l) && l.text.to_lowercase().contains(&q)
    };
    let found = if backwards || s.logs.hit.is_none() {
        s.logs
            .buf
            .iter()
            .rev()
            .find(|(seq, l)| *seq < from && matches(l))
            .map(|(seq, _)| seq)
    } else {
        s.logs
            .buf
            .iter()
            .find(|(seq, l)| *seq > from && matches(l))
            .map(|(seq, _)| seq)
    };
    match found {
        Some(seq) => {
            s.logs.hit = Some(seq);
            s.logs.follow = false;
            s.logs.top = seq.saturating_sub(rows / 2).max(s.logs.buf.first_seq());
        }
        None => {
            let q = s.logs.search.clone().unwrap_or_default();
            set_status(
                s,
                Level::Warn,
                format!(
                    "no {} match for `{}`",
                    if backwards || s.logs.hit.is_none() {
                        "earlier"
                    } else {
                        "later"
                    },
                    q
                ),
            );
        }
    }
}

pub fn source_ok(src: Source, l: &crate::observe::logbuf::LogLine) -> bool {
    match src {
        Source::All => true,
        Source::Phase(q) => q == l.phase && l.tag.is_none(),
        Source::Cloud => l.tag.is_some(),
    }
}

fn scroll_logs(s: &mut AppState, a: &Action) {
    if super::logs::move_cursor(s, a) || super::logs::scroll_filtered(s, a) {
        return;
    }
    let rows = log_rows(s) as u64;
    let (first, end) = (s.logs.buf.first_seq(), s.logs.buf.end_seq());
    let bottom_top = end.saturating_sub(rows).max(first);
    if s.logs.follow {
        s.logs.top = bottom_top;
    }
    let top = match a {
        Action::Up => s.logs.top.saturating_sub(1),
        Action::Down => s.logs.top + 1,
        Action::PageUp => s.logs.top.saturating_sub(rows),
        Action::PageDown => s.logs.top + rows,
        Action::Top => first,
        Action::Bottom => bottom_top,
        _ => s.logs.top,
    };
    s.logs.top = top.clamp(first, bottom_top);
    // reaching the bottom resumes following, like `less +F`
    s.logs.follow =
        s.logs.top >= bottom_top && !matches!(a, Action::Up | Action::PageUp | Action::Top);
    if s.logs.follow {
        s.logs.unseen = 0;
    }
}

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
        Action::Back if s.view == View::Jobs && s.jobs.log.is_some() => {
            s.jobs.log = None;
            vec![]
        }
        Action::Back => {
            if s.view == View::Datasets && s.datasets.loading {
                s.datasets.loading = false;
                s.datasets.req += 1;
                set_status(s, Level::Info, "listing cancelled — R continues it".into());
                return vec![Command::CancelList];
            }
            if s.view == View::Datasets && s.datasets.bucket.is_some() {
                // up one level: prefix, then bucket list
                let p = s.datasets.prefix.trim_end_matches('/');
                if p.is_empty() {
                    s.datasets.bucket = None;
                } else {
                    s.datasets.prefix = match p.rfind('/') {
                        Some(i) => p[..=i].to_string(),
                        None => String::new(),
                    };
                }
                s.datasets.filter.clear();
                return list_datasets(s);
            }
            if let Some(v) = s.history.pop() {
                s.view = v;
            }
            vec![]
        }
        Action::RunPipeline => start(s, PhaseId::ALL.to_vec()),
        Action::RunPhase(p) => start(s, vec![p]),
        Action::Cancel if s.view == View::Transfers => super::transfers::ask_cancel(s),
        Action::Cancel if s.view == View::Jobs => super::jobs::ask_cancel(s),
        Action::Cancel => {
            match s.active_run() {
                Some(r) => {
                    let text = format!(
                        "Cancel run {}? Running phases get SIGTERM, then SIGKILL.  y / n",
                        r.id
                    );
                    s.popup = Some(Popup::Confirm {
                        text,
                        action: Action::Cancel,
                    });
                }
                None => set_status(s, Level::Info, "nothing is running".into()),
            }
            vec![]
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => match s.view {
            View::Datasets => {
                let len = s.datasets.visible().len();
                let page = list_rows(s);
                move_sel(&mut s.datasets.selected, len, &a, page);
                preview_selected(s)
            }
            View::Runs => {
                let len = s.visible_runs().len();
                let page = list_rows(s);
                move_sel(&mut s.runs_view.selected, len, &a, page);
                vec![]
            }
            View::Jobs => {
                let len = s.jobs.visible().len();
                let page = list_rows(s);
                move_sel(&mut s.jobs.selected, len, &a, page);
                vec![]
            }
            View::Clusters => {
                let page = list_rows(s) / 2;
                super::clusters::step(s, &a, page);
                vec![]
            }
            View::Transfers => {
                let len = s.transfers.list.len();
                let page = list_rows(s);
                move_sel(&mut s.transfers.selected, len, &a, page);
                vec![]
            }
            View::Logs => {
                scroll_logs(s, &a);
                vec![]
            }
            View::Plots => {
                let n = s.plots.files.len();
                if n == 0 {
                    return vec![];
                }
                let before = s.plots.snapshot;
                move_sel(&mut s.plots.snapshot, n, &a, 5);
                if before != s.plots.snapshot {
                    load_plot(s)
                } else {
                    vec![]
                }
            }
            View::Metrics if s.metrics.cloud => {
                let n = s.metrics.cw.len().max(1);
                move_sel(&mut s.metrics.first, n, &a, 4);
                vec![]
            }
            _ => vec![],
        },
        Action::Left | Action::Right if s.view == View::Clusters => {
            super::clusters::focus(s, a == Action::Right);
            vec![]
        }
        Action::Left | Action::Right => {
            let n = s.plots.files.len();
            if s.view != View::Plots || n == 0 {
                return vec![];
            }
            let before = s.plots.snapshot;
            move_sel(
                &mut s.plots.snapshot,
                n,
                if a == Action::Left {
                    &Action::Up
                } else {
                    &Action::Down
                },
                1,
            );
            if before != s.plots.snapshot {
                load_plot(s)
            } else {
                vec![]
            }
        }
        Action::NextItem | Action::PrevItem => {
            let n = s.project.as_ref().map(|p| p.plots.len()).unwrap_or(0);
            if s.view != View::Plots || n == 0 {
                return vec![];
            }
            s.plots.plot = if a == Action::NextItem {
                (s.plots.plot + 1) % n
            } else {
                (s.plots.plot + n - 1) % n
            };
            s.plots.files.clear();
            s.plots.snapshot = 0;
            s.plots.data = None;
            refresh_plots(s)
        }
        Action::Enter => match s.view {
            View::Datasets => {
                let vis = s.datasets.visible();
                let Some(row) = vis.get(s.datasets.selected).map(|r| (*r).clone()) else {
                    return vec![];
                };
                match row.kind {
                    RowKind::Bucket => {
                        s.datasets.bucket = Some(row.key.into());
                        s.datasets.prefix.clear();
                    }
                    RowKind::Prefix => s.datasets.prefix = row.key.into(),
                    RowKind::Object => return preview_selected(s),
                }
                s.datasets.filter.clear();
                list_datasets(s)
            }
            View::Runs => open_for_run(s, View::Pipeline),
            View::Jobs => super::jobs::open_log(s),
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
            search_step(s, a == Action::SearchPrev);
            vec![]
        }
        Action::ToggleFollow => {
            s.logs.follow = !s.logs.follow;
            if s.logs.follow {
                s.logs.unseen = 0;
                s.logs.hit = None;
                s.logs.sel = None;
            } else {
                let rows = log_rows(s) as u64;
                s.logs.top = s
                    .logs
                    .buf
                    .end_seq()
                    .saturating_sub(rows)
                    .max(s.logs.buf.first_seq());
            }
            vec![]
        }
        Action::ToggleWrap => {
            s.logs.wrap = !s.logs.wrap;
            vec![]
        }
        Action::CycleSource => {
            s.logs.source = match s.logs.source {
                Source::All => Source::Phase(PhaseId::Preprocess),
                Source::Phase(PhaseId::Preprocess) => Source::Phase(PhaseId::Solve),
                Source::Phase(PhaseId::Solve) if s.logs.cloud => Source::Cloud,
                Source::Phase(PhaseId::Solve) | Source::Cloud => Source::All,
            };
            super::logs::rebuild(s);
            vec![]
        }
        Action::ToggleStamps => {
            s.logs.stamps = !s.logs.stamps;
            vec![]
        }
        Action::FirstError => super::logs::first_error(s),
        Action::CopyLine => super::logs::copy(s),
        Action::SelectLines => super::logs::toggle_select(s),
        Action::SortNext if s.view == View::Jobs => {
            super::jobs::sort_next(s);
            vec![]
        }
        Action::SortNext => {
            s.datasets.sort = match s.datasets.sort {
                SortBy::Name => SortBy::Size,
                SortBy::Size => SortBy::Time,
                SortBy::Time => SortBy::Name,
            };
            s.datasets.selected = 0;
            vec![]
        }
        Action::Refresh => match s.view {
            View::Datasets => relist_datasets(s),
            View::Runs | View::Pipeline => vec![Command::ReloadRuns],
            View::Metrics if s.metrics.cloud => super::watch::load(s),
            View::Metrics => s
                .metrics
                .run_id
                .clone()
                .map(|id| vec![Command::LoadMetrics { run_id: id }])
                .unwrap_or_default(),
            View::Plots => refresh_plots(s),
            View::Transfers => super::transfers::retry_selected(s),
            View::Jobs => super::jobs::load(s),
            View::Clusters => super::clusters::load(s),
            View::Logs => vec![],
        },
        Action::Theme(name) => vec![Command::LoadTheme { name }],
        Action::Download => super::transfers::ask_download(s),
        Action::Upload => super::transfers::ask_upload(s),
        Action::Overwrite(_)
        | Action::CancelTransfer(_)
        | Action::CancelJob(_)
        | Action::UseNode { .. } => confirmed(s, a),
        Action::CycleTarget => {
            super::clusters::cycle_target(s);
            vec![]
        }
        Action::AskUseNode => super::clusters::ask_use(s),
        Action::ToggleRay => super::clusters::toggle_ray(s),
        Action::ToggleCloud => super::watch::toggle(s),
        Action::ExportPlot => export_plot(s),
        Action::HoldRange => super::plots::hold_range(s),
        Action::Compare => super::plots::compare(s),
        Action::CompareMore => super::plots::compare_more(s),
        Action::Zoom(z) => super::plots::zoom(s, z),
        Action::Difference => super::plots::difference(s),
        Action::PlayPause => super::plots::toggle_play(s),
        Action::PlayFaster => super::plots::play_rate(s, true),
        Action::PlaySlower => super::plots::play_rate(s, false),
        Action::BrowseCloud => super::watch::toggle_browse(s),
        Action::BrowseMetrics => super::watch::open_metric_browse(s),
        Action::CyclePeriod => super::watch::cycle_period(s),
        Action::CycleStat => super::watch::cycle_stat(s),
        Action::Partitions => super::jobs::toggle_partitions(s),
        Action::ClearFinished => super::transfers::clear_finished(s),
    }
}

/// What a Preview looks like for an object head: CSV as a table, text as lines, else hex.
pub fn make_preview(key: &str, head: &[u8], size: u64) -> Preview {
    let truncated = (head.len() as u64) < size;
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".npy") {
        if let Some(lines) = npy_summary(head, size) {
            return Preview::Text {
                lines,
                truncated: false,
            };
        }
    }
    if lower.ends_with(".json") && !truncated {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(head) {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            let lines = pretty
                .lines()
                .take(500)
                .map(|l| sanitize(l).into_owned())
                .collect();
            return Preview::Text {
                lines,
                truncated: false,
            };
        }
    }
    let printable = head
        .iter()
        .filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace() || **b >= 0x80)
        .count();
    let text_like = head.is_empty() || printable * 100 / head.len().max(1) >= 95;
    if !text_like {
        let hex = head
            .chunks(16)
            .take(64)
            .enumerate()
            .map(|(i, c)| {
                let hx: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
                let asc: String = c
                    .iter()
                    .map(|b| {
                        if b.is_ascii_graphic() {
                            *b as char
                        } else {
                            '.'
                        }
                    })
                    .collect();
                format!("{:08x}  {:<47}  {asc}", i * 16, hx.join(" "))
            })
            .collect();
        return Preview::Binary { hex, size };
    }
    // drop a cut last line
    let body = if truncated {
        head.rsplit_once_byte(b'\n').unwrap_or(head)
    } else {
        head
    };
    if key.to_ascii_lowercase().ends_with(".csv") {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(body);
        let mut rows: Vec<Vec<String>> = rdr
            .records()
            .take(200)
            .filter_map(Result::ok)
            .map(|r| r.iter().map(|c| sanitize(c).into_owned()).collect())
            .collect();
        if !rows.is_empty() {
            let header = rows.remove(0);
            return Preview::Table {
                header,
                rows,
                truncated,
            };
        }
    }
    let lines = body
        .split(|b| *b == b'\n')
        .take(500)
        .map(|l| crate::observe::sanitize_bytes(l.strip_suffix(b"\r").unwrap_or(l)))
        .collect();
    Preview::Text { lines, truncated }
}

/// The header of an .npy head (dtype, shape, order) and statistics of the values it holds.
pub fn npy_summary(head: &[u8], size: u64) -> Option<Vec<String>> {
    let rest = head.strip_prefix(b"\x93NUMPY")?;
    let (major, minor) = (*rest.first()?, *rest.get(1)?);
    let (hlen, start) = if major == 1 {
        (
            u16::from_le_bytes([*rest.get(2)?, *rest.get(3)?]) as usize,
            10,
        )
    } else {
        (
            u32::from_le_bytes([*rest.get(2)?, *rest.get(3)?, *rest.get(4)?, *rest.get(5)?])
                as usize,
            12,
        )
    };
    let header = std::str::from_utf8(head.get(start..start + hlen)?).ok()?;
    let field = |name: &str| -> Option<String> {
        let i = header.find(&format!("'{name}'"))? + name.len() + 2;
        let rest = header[i..].trim_start().strip_prefix(':')?.trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find(',')?
        };
        Some(rest[..end].trim().trim_matches('\'').to_string())
    };
    let descr = field("descr")?;
    let fortran = field("fortran_order").is_some_and(|v| v == "True");
    let shape = field("shape")?;
    let dims: Vec<u64> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().parse::<u64>().unwrap_or(0))
        .collect();
    let count: u64 = dims.iter().product();
    let shape = format!(
        "({})",
        dims.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let data = head.get(start + hlen..)?;
    let vals: Vec<f64> = match descr.as_str() {
        "<f8" => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        "<i8" => data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        "<i4" => data
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        _ => Vec::new(),
    };
    let mut lines = vec![
        format!(
            "NPY v{major}.{minor} · dtype {} · shape {} · {} order",
            sanitize(&descr),
            sanitize(&shape),
            if fortran { "Fortran" } else { "C" }
        ),
        format!("{count} values, {} bytes", size),
    ];
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    if let Some((lo, hi)) = crate::plot::finite_range(&finite) {
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        lines.push(format!(
            "first {} values: min {lo:.6} · max {hi:.6} · mean {mean:.6}{}",
            vals.len(),
            if finite.len() < vals.len() {
                format!(" · {} NaN/inf", vals.len() - finite.len())
            } else {
                String::new()
            }
        ));
    } else if vals.is_empty() {
        lines.push(format!(
            "statistics: dtype {} is not summarised",
            sanitize(&descr)
        ));
    }
    Some(lines)
}

trait RsplitOnce {
    fn rsplit_once_byte(&self, b: u8) -> Option<&[u8]>;
}

impl RsplitOnce for [u8] {
    fn rsplit_once_byte(&self, b: u8) -> Option<&[u8]> {
        memchr::memrchr(b, self).map(|i| &self[..i])
    }
}

/// Feed `n` keys through the Datasets view as 1000-key pages (keys, sizes, times, ETags and storage
/// classes shaped like S3's) and report peak RSS and time: what a listing of `n` keys costs the TUI.
pub fn bench_listing(n: usize) -> serde_json::Value {
    use crate::storage::ObjectMeta;
    let t0 = std::time::Instant::now();
    let mut s = AppState::new(
        Err(crate::project::ProjectError {
            file: "bench".into(),
            pos: None,
            key: None,
            message: String::new(),
        }),
        "local".into(),
        String::new(),
        crate::theme::Theme::embedded("dark"),
        chrono::Utc::now(),
    );
    s.view = View::Datasets;
    s.datasets.bucket = Some("bench".into());
    s.datasets.prefix = "data/2024/".into();
    s.datasets.req = 1;
    s.datasets.loading = true;
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < n {
        let page: Vec<Entry> = (i..(i + 1000).min(n))
            .map(|k| {
                Entry::Object(ObjectMeta {
                    key: format!("data/2024/part-{k:08}.csv"),
                    size: 1000 + k as u64,
                    modified: Some(now),
                    etag: Some(format!("\"{:032x}\"", k as u128 * 0x9e3779b97f4a7c15)),
                    storage_class: Some("STANDARD".into()),
                })
            })
            .collect();
        i += page.len();
        let next = (i < n).then(|| format!("token-{i}"));
        update(
            &mut s,
            Msg::StorePage {
                req: 1,
                entries: page,
                next,
            },
        );
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let hwm = crate::tools::peak_rss_kib();
    serde_json::json!({
        "keys": s.datasets.rows.len(),
        "seconds": elapsed,
        "peak_rss_mib": hwm / 1024.0,
        "bytes_per_row": hwm * 1024.0 / n.max(1) as f64,
    })
}
