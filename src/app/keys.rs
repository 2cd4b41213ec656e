//! Key bindings: one table per view plus the global ones. The `?` help and the dispatcher both read
//! these tables, so what help lists is what the keys do.

use super::msg::{Action, Pan, Zoom};
use super::state::View;
use crate::project::PhaseId;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone)]
pub struct Binding {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    /// As shown in help and hints.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// A word or two for the footer's hints; empty keeps the key out of the footer.
    pub short: &'static str,
}

const fn b(code: KeyCode, label: &'static str, action: Action, help: &'static str) -> Binding {
    Binding {
        code,
        mods: KeyModifiers::NONE,
        label,
        action,
        help,
        short: "",
    }
}

impl Binding {
    fn hint(mut self, short: &'static str) -> Binding {
        self.short = short;
        self
    }
    fn with(mut self, mods: KeyModifiers) -> Binding {
        self.mods = mods;
        self
    }
}

fn nav() -> Vec<Binding> {
    vec![
        b(KeyCode::Up, "↑/k", Action::Up, "move up"),
        b(KeyCode::Char('k'), "", Action::Up, ""),
        b(KeyCode::Down, "↓/j", Action::Down, "move down"),
        b(KeyCode::Char('j'), "", Action::Down, ""),
        b(KeyCode::PageUp, "PgUp", Action::PageUp, "page up"),
        b(KeyCode::PageDown, "PgDn", Action::PageDown, "page down"),
        b(KeyCode::Char('g'), "g/Home", Action::Top, "first"),
        b(KeyCode::Home, "", Action::Top, ""),
        b(KeyCode::Char('G'), "G/End", Action::Bottom, "last"),
        b(KeyCode::End, "", Action::Bottom, ""),
    ]
}

/// Bindings of `view`, the view's own first, then the global ones.
pub fn table(view: View) -> Vec<Binding> {
    let mut v = match view {
        View::Pipeline => vec![
            b(
                KeyCode::Char('r'),
                "r",
                Action::RunPipeline,
                "run the whole pipeline",
            )
            .hint("run"),
            b(
                KeyCode::Char('R'),
                "R",
                Action::AskReuse,
                "run again, the phases that did not change (section, inputs by content, version) taken from an earlier run: asks first, saying why each one runs",
            ),
            b(
                KeyCode::Char('p'),
                "p",
                Action::RunPhase(PhaseId::Preprocess),
                "run preprocess only",
            )
            .hint("preprocess"),
            b(
                KeyCode::Char('s'),
                "s",
                Action::RunPhase(PhaseId::Solve),
                "run solve only (on the last handoff)",
            )
            .hint("solve"),
            b(
                KeyCode::Char('c'),
                "c",
                Action::Cancel,
                "cancel the running run",
            )
            .hint("cancel"),
            b(
                KeyCode::Char('l'),
                "l",
                Action::OpenLogs,
                "logs of this run",
            )
            .hint("logs"),
            b(
                KeyCode::Char('m'),
                "m",
                Action::OpenMetrics,
                "metrics of this run",
            ),
            b(
                KeyCode::Char('v'),
                "v",
                Action::OpenPlots,
                "plots of this run",
            ),
        ],
        View::Datasets => {
            let mut v = nav();
            v.extend([
                b(
                    KeyCode::Enter,
                    "Enter/→",
                    Action::Enter,
                    "open bucket or folder",
                )
                .hint("open"),
                b(KeyCode::Right, "", Action::Enter, ""),
                b(KeyCode::Left, "←/Bksp", Action::Back, "up one level").hint("up"),
                b(KeyCode::Backspace, "", Action::Back, ""),
                b(
                    KeyCode::Char('>'),
                    "</> S-←→",
                    Action::ScrollColumns(false),
                    "a table preview: scroll left / right by a column",
                ),
                b(KeyCode::Char('<'), "", Action::ScrollColumns(true), ""),
                b(KeyCode::Right, "", Action::ScrollColumns(false), "")
                    .with(KeyModifiers::SHIFT),
                b(KeyCode::Left, "", Action::ScrollColumns(true), "").with(KeyModifiers::SHIFT),
                b(
                    KeyCode::Char('/'),
                    "/",
                    Action::Filter,
                    "filter what is loaded",
                )
                .hint("filter"),
                b(
                    KeyCode::Char('o'),
                    "o",
                    Action::SortNext,
                    "sort by name, size, time",
                )
                .hint("sort"),
                b(
                    KeyCode::Char('R'),
                    "R",
                    Action::Refresh,
                    "reload, or continue a listing that stopped",
                ),
                b(
                    KeyCode::Char('d'),
                    "d",
                    Action::Download,
                    "download the object or folder",
                )
                .hint("download"),
                b(
                    KeyCode::Char('u'),
                    "u",
                    Action::Upload,
                    "upload a file or directory here",
                )
                .hint("upload"),
                b(
                    KeyCode::Char('S'),
                    "S",
                    Action::Sync(crate::storage::transfer::Direction::Down),
                    "sync this prefix into a local directory (only what differs; asks first)",
                ),
                b(
                    KeyCode::Char('U'),
                    "U",
                    Action::Sync(crate::storage::transfer::Direction::Up),
                    "sync a local directory into this prefix (only what differs; asks first)",
                ),
            ]);
            v
        }
        View::Jobs => {
            let mut v = nav();
            v.extend([
                b(
                    KeyCode::Char('c'),
                    "c",
                    Action::Cancel,
                    "scancel the selected job",
                )
                .hint("cancel"),
                b(KeyCode::Char('/'), "/", Action::Filter, "filter jobs").hint("filter"),
                b(
                    KeyCode::Enter,
                    "Enter",
                    Action::Enter,
                    "follow the job's log (Esc closes)",
                )
                .hint("log"),
                b(
                    KeyCode::Char('o'),
                    "o",
                    Action::SortNext,
                    "sort by id, state, user, elapsed",
                )
                .hint("sort"),
                b(
                    KeyCode::Char('i'),
                    "i",
                    Action::Partitions,
                    "partitions and nodes (sinfo)",
                )
                .hint("partitions"),
                b(KeyCode::Char('R'), "R", Action::Refresh, "refresh now"),
            ]);
            v
        }
        View::Clusters => {
            let mut v = nav();
            v.extend([
                b(KeyCode::Left, "←/h", Action::Left, "focus the clusters"),
                b(KeyCode::Char('h'), "", Action::Left, ""),
                b(KeyCode::Right, "→/l", Action::Right, "focus the nodes"),
                b(KeyCode::Char('l'), "", Action::Right, ""),
                b(
                    KeyCode::Char('u'),
                    "u",
                    Action::AskUseNode,
                    "use the node as the target's head node",
                )
                .hint("use node"),
                b(
                    KeyCode::Char('t'),
                    "t",
                    Action::CycleTarget,
                    "which ssm target `u` sets",
                )
                .hint("target"),
                b(KeyCode::Char('/'), "/", Action::Filter, "filter nodes").hint("filter"),
                b(
                    KeyCode::Char('r'),
                    "r",
                    Action::ToggleRay,
                    "HyperPod or the target's Ray cluster (nodes, resources, jobs)",
                )
                .hint("ray"),
                b(KeyCode::Char('R'), "R", Action::Refresh, "refresh now"),
            ]);
            v
        }
        View::Transfers => {
            let mut v = nav();
            v.extend([
                b(
                    KeyCode::Char('c'),
                    "c",
                    Action::Cancel,
                    "cancel the selected transfer",
                )
                .hint("cancel"),
                b(
                    KeyCode::Char('R'),
                    "R",
                    Action::Refresh,
                    "retry (a download resumes)",
                )
                .hint("retry"),
                b(
                    KeyCode::Char('x'),
                    "x",
                    Action::ClearFinished,
                    "clear finished transfers",
                )
                .hint("clear"),
            ]);
            v
        }
        View::Runs => {
            let mut v = nav();
            v.extend([
                b(
                    KeyCode::Enter,
                    "Enter",
                    Action::Enter,
                    "show in the pipeline view",
                )
                .hint("show"),
                b(KeyCode::Char('l'), "l", Action::OpenLogs, "logs of the run").hint("logs"),
                b(
                    KeyCode::Char('m'),
                    "m",
                    Action::OpenMetrics,
                    "metrics of the run",
                ),
                b(
                    KeyCode::Char('v'),
                    "v",
                    Action::OpenPlots,
                    "plots of the run",
                )
                .hint("plots"),
                b(KeyCode::Char('c'), "c", Action::Cancel, "cancel the run"),
                b(KeyCode::Char('/'), "/", Action::Filter, "filter runs").hint("filter"),
                b(
                    KeyCode::Char(' '),
                    "Space",
                    Action::MarkRun,
                    "mark a run to compare (two at most)",
                ),
                b(
                    KeyCode::Char('='),
                    "=",
                    Action::DiffRuns,
                    "compare the two marked runs (or the marked one and this one); v then shows their plots compared, Esc goes back",
                )
                .hint("compare"),
                b(
                    KeyCode::Char('R'),
                    "R",
                    Action::Refresh,
                    "reload the journal",
                ),
            ]);
            v
        }
        View::Logs => {
            let mut v = nav();
            v.extend([
                b(
                    KeyCode::Char('f'),
                    "f/Space",
                    Action::ToggleFollow,
                    "follow / pause",
                )
                .hint("follow/pause"),
                b(KeyCode::Char(' '), "", Action::ToggleFollow, ""),
                b(
                    KeyCode::Char('w'),
                    "w",
                    Action::ToggleWrap,
                    "wrap long lines",
                )
                .hint("wrap"),
                b(KeyCode::Char('/'), "/", Action::Search, "search").hint("search"),
                b(
                    KeyCode::Char('&'),
                    "&",
                    Action::Filter,
                    "filter: a regex (smart case), !pattern for lines not matching",
                )
                .hint("filter"),
                b(
                    KeyCode::Char('E'),
                    "E",
                    Action::FirstError,
                    "jump to the first error line",
                ),
                b(
                    KeyCode::Char('T'),
                    "T",
                    Action::ToggleStamps,
                    "timestamps on / off",
                ),
                b(
                    KeyCode::Char('R'),
                    "R",
                    Action::ToggleRaw,
                    "raw: every byte as written, escaped (colours and progress redraws not interpreted)",
                ),
                b(
                    KeyCode::Char('y'),
                    "y",
                    Action::CopyLine,
                    "copy the selection, else the marked (or top) line, to the clipboard (OSC 52)",
                ),
                b(
                    KeyCode::Char('v'),
                    "v",
                    Action::SelectLines,
                    "select lines: ↑↓ PgUp PgDn move its end, y copies, v or Esc drops",
                ),
                b(KeyCode::Char('n'), "n", Action::SearchNext, "next match"),
                b(
                    KeyCode::Char('N'),
                    "N",
                    Action::SearchPrev,
                    "previous match",
                ),
                b(
                    KeyCode::Char('t'),
                    "t",
                    Action::CycleSource,
                    "all / preprocess / solve / CloudWatch",
                )
                .hint("source"),
                b(
                    KeyCode::Char('}'),
                    "{/}",
                    Action::StepElement(false),
                    "a sweep's next / previous element alone (past the last: all again)",
                ),
                b(KeyCode::Char('{'), "", Action::StepElement(true), ""),
                b(
                    KeyCode::Char('C'),
                    "C",
                    Action::BrowseCloud,
                    "CloudWatch log groups: type to narrow, Enter opens a group, Space marks streams, Enter tails them (none marked: the whole group) into this timeline, Esc back",
                ),
            ]);
            v
        }
        View::Metrics => vec![
            b(
                KeyCode::Char('c'),
                "c",
                Action::ToggleCloud,
                "CloudWatch metrics of the target / samples of the run",
            )
            .hint("cloudwatch"),
            b(
                KeyCode::Char('p'),
                "p",
                Action::CyclePeriod,
                "CloudWatch period: 60 s, 5 min, 1 h, 10 s",
            ),
            b(
                KeyCode::Char('s'),
                "s",
                Action::CycleStat,
                "statistic: Average, Maximum, Minimum, Sum, p99",
            ),
            b(
                KeyCode::Char('a'),
                "a",
                Action::BrowseMetrics,
                "add CloudWatch metrics: namespaces, then metrics (type to narrow, Space marks), Enter adds them to the target in tandem.toml",
            )
            .hint("add metric"),
            b(KeyCode::PageDown, "PgDn", Action::PageDown, "next charts"),
            b(KeyCode::PageUp, "PgUp", Action::PageUp, "previous charts"),
            b(KeyCode::Char('R'), "R", Action::Refresh, "reload").hint("reload"),
        ],
        View::Plots => vec![
            b(KeyCode::Right, "→/l", Action::Right, "next snapshot").hint("snapshot"),
            b(KeyCode::Char('l'), "", Action::Right, ""),
            b(KeyCode::Left, "←/h", Action::Left, "previous snapshot"),
            b(KeyCode::Char('h'), "", Action::Left, ""),
            b(KeyCode::Home, "g/Home", Action::Top, "first snapshot"),
            b(KeyCode::Char('g'), "", Action::Top, ""),
            b(KeyCode::End, "G/End", Action::Bottom, "last snapshot"),
            b(KeyCode::Char('G'), "", Action::Bottom, ""),
            b(KeyCode::Tab, "Tab/]", Action::NextItem, "next plot").hint("next plot"),
            b(KeyCode::Char(']'), "", Action::NextItem, ""),
            b(
                KeyCode::BackTab,
                "S-Tab/[",
                Action::PrevItem,
                "previous plot",
            ),
            b(KeyCode::Char('['), "", Action::PrevItem, ""),
            b(
                KeyCode::Char('e'),
                "e",
                Action::ExportPlot,
                "export this plot to a PNG (1200x800) in the directory tandem started in",
            )
            .hint("export"),
            b(KeyCode::Char(' '), "Space", Action::PlayPause, "play the snapshots / stop")
                .hint("play"),
            b(KeyCode::Char('<'), "<", Action::PlaySlower, "play slower (1, 2, 4 a second)"),
            b(KeyCode::Char('>'), ">", Action::PlayFaster, "play faster"),
            b(KeyCode::Char('+'), "+/-", Action::Zoom(Zoom::In), "zoom in / out (around the centre)")
                .hint("zoom"),
            b(KeyCode::Char('='), "", Action::Zoom(Zoom::In), ""),
            b(KeyCode::Char('-'), "", Action::Zoom(Zoom::Out), ""),
            b(KeyCode::Char('0'), "0", Action::Zoom(Zoom::All), "all of the plot again"),
            b(KeyCode::Left, "C-←→↑↓", Action::Pan(Pan::Left), "pan while zoomed").with(KeyModifiers::CONTROL),
            b(KeyCode::Right, "", Action::Pan(Pan::Right), "").with(KeyModifiers::CONTROL),
            b(KeyCode::Down, "", Action::Pan(Pan::Down), "").with(KeyModifiers::CONTROL),
            b(KeyCode::Up, "", Action::Pan(Pan::Up), "").with(KeyModifiers::CONTROL),
            b(
                KeyCode::Char('c'),
                "c",
                Action::Compare,
                "compare with an older run (again: the next older; after the oldest: off)",
            )
            .hint("compare"),
            b(
                KeyCode::Char('C'),
                "C",
                Action::CompareMore,
                "line plots: overlay one more older run too (up to four runs)",
            ),
            b(
                KeyCode::Char('d'),
                "d",
                Action::Difference,
                "comparing fields: this run minus the other / side by side",
            ),
            b(
                KeyCode::Char('H'),
                "H",
                Action::HoldRange,
                "hold this colour range for the next snapshots / let go",
            ),
            b(KeyCode::Down, "↓/j ↑/k", Action::StepSlice(false), "an N-D array: next / previous 2-D slice"),
            b(KeyCode::Char('}'), "{/}", Action::StepElement(false), "a sweep: the next / previous element alone (past the last: all of them)"),
            b(KeyCode::Char('{'), "", Action::StepElement(true), ""),
            b(KeyCode::Char('j'), "", Action::StepSlice(false), ""),
            b(KeyCode::Up, "", Action::StepSlice(true), ""),
            b(KeyCode::Char('k'), "", Action::StepSlice(true), ""),
            b(KeyCode::Char('f'), "f", Action::NextField, "a structured array: next numeric field"),
            b(KeyCode::Char('m'), "m", Action::NextComplexPart, "a complex array: magnitude, real, imaginary, phase"),
            b(KeyCode::Char('R'), "R", Action::Refresh, "reload"),
        ],
    };
    v.extend(global());
    v
}

pub fn global() -> Vec<Binding> {
    vec![
        b(
            KeyCode::Char('1'),
            "1-9",
            Action::Show(View::Pipeline),
            "switch view",
        ),
        b(KeyCode::Char('2'), "", Action::Show(View::Datasets), ""),
        b(KeyCode::Char('3'), "", Action::Show(View::Runs), ""),
        b(KeyCode::Char('4'), "", Action::Show(View::Logs), ""),
        b(KeyCode::Char('5'), "", Action::Show(View::Metrics), ""),
        b(KeyCode::Char('6'), "", Action::Show(View::Plots), ""),
        b(KeyCode::Char('7'), "", Action::Show(View::Transfers), ""),
        b(KeyCode::Char('8'), "", Action::Show(View::Jobs), ""),
        b(KeyCode::Char('9'), "", Action::Show(View::Clusters), ""),
        b(KeyCode::Char('?'), "?", Action::Help, "help for this view").hint("help"),
        b(KeyCode::Char(':'), ":", Action::Palette, "command palette").hint("palette"),
        b(KeyCode::Esc, "Esc", Action::Back, "back"),
        b(KeyCode::Char('q'), "q", Action::Quit, "quit").hint("quit"),
        Binding {
            code: KeyCode::Char('c'),
            mods: KeyModifiers::CONTROL,
            label: "Ctrl-C",
            action: Action::Quit,
            help: "quit from anywhere",
            short: "",
        },
    ]
}

/// The action a key means in `view`.
pub fn lookup(view: View, key: &KeyEvent) -> Option<Action> {
    // a binding with Shift (Shift+←) first; else Shift is part of the character (`G`, `<`)
    let t = table(view);
    let loose = key.modifiers - KeyModifiers::SHIFT;
    t.iter()
        .find(|bd| bd.code == key.code && bd.mods == key.modifiers)
        .or_else(|| t.iter().find(|bd| bd.code == key.code && bd.mods == loose))
        .map(|bd| bd.action.clone())
}

/// Entries of the `:` palette: a label and what it does.
pub fn palette() -> Vec<(String, Action)> {
    let mut v: Vec<(String, Action)> = View::ALL
        .iter()
        .map(|w| {
            (
                format!("view: {}", w.title().to_lowercase()),
                Action::Show(*w),
            )
        })
        .collect();
    v.extend([
        ("run: whole pipeline".to_string(), Action::RunPipeline),
        (
            "run: preprocess".to_string(),
            Action::RunPhase(PhaseId::Preprocess),
        ),
        ("run: solve".to_string(), Action::RunPhase(PhaseId::Solve)),
        ("run: cancel".to_string(), Action::Cancel),
        ("logs: toggle wrap".to_string(), Action::ToggleWrap),
        ("logs: timestamps".to_string(), Action::ToggleStamps),
        ("logs: raw bytes".to_string(), Action::ToggleRaw),
        ("logs: first error".to_string(), Action::FirstError),
        ("logs: copy line".to_string(), Action::CopyLine),
        ("logs: select lines".to_string(), Action::SelectLines),
        (
            "metrics: add CloudWatch metrics".to_string(),
            Action::BrowseMetrics,
        ),
        ("reload".to_string(), Action::Refresh),
        ("help".to_string(), Action::Help),
    ]);
    for (name, _) in crate::theme::EMBEDDED {
        v.push((format!("theme: {name}"), Action::Theme(name.to_string())));
    }
    v.push(("quit".to_string(), Action::Quit));
    v
}

/// Palette entries matching `query`: every word of the query must occur in the label.
pub fn palette_matches(query: &str) -> Vec<(String, Action)> {
    let q = query.to_lowercase();
    palette()
        .into_iter()
        .filter(|(l, _)| q.split_whitespace().all(|w| l.contains(w)))
        .collect()
}
