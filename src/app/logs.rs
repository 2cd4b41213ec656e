//! The Logs view's filter, jumps and copy. With a filter (`&`), the lines that pass it (and the
//! source choice) are kept as an index of sequence numbers, built once when the filter changes and
//! extended as lines arrive, so neither following nor scrolling rescans the buffer.

use super::command::Command;
use super::layout::log_rows;
use super::msg::Action;
use super::state::{AppState, Level};
use super::status::set_status;
use crate::observe::filter::{looks_like_error, LineFilter};
use crate::observe::logbuf::{LogBuffer, LogLine};
use crate::project::PhaseId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    All,
    Phase(PhaseId),
    /// One element of a swept phase.
    Element(PhaseId, u32),
    /// The CloudWatch streams of the run's target.
    Cloud,
}

#[derive(Debug, Clone)]
pub struct LogsState {
    pub run_id: Option<String>,
    pub buf: LogBuffer,
    pub follow: bool,
    pub wrap: bool,
    /// Sequence number of the top line when not following.
    pub top: u64,
    pub source: LogSource,
    pub search: Option<String>,
    /// Sequence of the current search hit, or the cursor of a selection.
    pub hit: Option<u64>,
    /// `v`: where a selection of lines started (it runs to `hit`).
    pub sel: Option<u64>,
    /// Lines that arrived while paused.
    pub unseen: u64,
    /// `&`: only lines matching (or, with `!`, not matching) this.
    pub filter: Option<crate::observe::filter::LineFilter>,
    /// With a filter: the sequence numbers of the lines that pass it, oldest first.
    pub matched: std::collections::VecDeque<u64>,
    /// `T`: show when each line was read.
    pub stamps: bool,
    /// `R`: every byte as written, escaped, instead of colours and redraws interpreted.
    pub raw: bool,
    /// Lines from CloudWatch have arrived (the source choice offers them).
    pub cloud: bool,
    /// `C`: the CloudWatch log group browser, when open.
    pub browse: Option<super::cloudwatch::Browse>,
}

impl Default for LogsState {
    fn default() -> Self {
        LogsState {
            run_id: None,
            buf: LogBuffer::default(),
            follow: true,
            wrap: false,
            top: 0,
            source: LogSource::All,
            search: None,
            hit: None,
            sel: None,
            unseen: 0,
            filter: None,
            matched: Default::default(),
            stamps: false,
            raw: false,
            cloud: false,
            browse: None,
        }
    }
}

/// Whether a line is shown under the current source and filter.
pub fn passes(s: &AppState, l: &LogLine) -> bool {
    source_ok(s.logs.source, l) && s.logs.filter.as_ref().is_none_or(|f| f.matches(&l.text))
}

/// The index of passing lines, from scratch (a new filter or source): the buffer is matched on
/// every core (rayon), in order.
pub fn rebuild(s: &mut AppState) {
    use rayon::prelude::*;
    let mut m = std::collections::VecDeque::new();
    if let Some(f) = &s.logs.filter {
        let src = s.logs.source;
        let (a, b) = s.logs.buf.as_slices();
        let first = s.logs.buf.first_seq();
        let pick = |from: u64, part: &[LogLine]| -> Vec<u64> {
            part.par_iter()
                .enumerate()
                .filter(|(_, l)| source_ok(src, l) && f.matches(&l.text))
                .map(|(i, _)| from + i as u64)
                .collect()
        };
        m.extend(pick(first, a));
        m.extend(pick(first + a.len() as u64, b));
    }
    s.logs.matched = m;
    s.logs.hit = None;
}

/// `&` typed: filter as the text changes; empty clears.
pub fn set_filter(s: &mut AppState, text: String) {
    s.logs.filter = LineFilter::parse(&text);
    rebuild(s);
    if s.logs.filter.as_ref().is_some_and(|f| f.literal) {
        set_status(
            s,
            Level::Info,
            "not a valid regular expression: matching it as plain text".into(),
        );
    }
    if !s.logs.follow {
        let first = first_shown(s);
        s.logs.top = first.unwrap_or(s.logs.top);
    }
}

fn first_shown(s: &AppState) -> Option<u64> {
    if s.logs.filter.is_some() {
        s.logs
            .matched
            .iter()
            .copied()
            .find(|q| *q >= s.logs.top.max(s.logs.buf.first_seq()))
    } else {
        None
    }
}

/// New lines: into the buffer, and into the index when they pass the filter.
pub fn ingest(s: &mut AppState, lines: Vec<LogLine>) {
    let n = lines.len() as u64;
    let mut moved = false;
    for l in lines {
        let pass = s.logs.filter.is_some() && !moved && passes(s, &l);
        if l.tag.is_some() {
            // a CloudWatch event: into the timeline at its own time
            s.logs.cloud = true;
            moved |= s.logs.buf.insert_by_time(l);
        } else {
            s.logs.buf.push(l);
        }
        if pass && !moved {
            let seq = s.logs.buf.end_seq() - 1;
            s.logs.matched.push_back(seq);
        }
    }
    if moved && s.logs.filter.is_some() {
        // lines went in above others: their sequence numbers moved, the index is built again
        rebuild(s);
    }
    let first = s.logs.buf.first_seq();
    while s.logs.matched.front().is_some_and(|q| *q < first) {
        s.logs.matched.pop_front();
    }
    if !s.logs.follow {
        s.logs.unseen += n;
        s.logs.top = s.logs.top.max(first);
    }
}

/// The sequence numbers on screen for `rows` rows.
pub fn visible(s: &AppState, rows: usize) -> Vec<u64> {
    let l = &s.logs;
    let first = l.buf.first_seq();
    if l.filter.is_some() {
        let m = &l.matched;
        let start = if l.follow {
            m.len().saturating_sub(rows)
        } else {
            m.partition_point(|q| *q < l.top.max(first))
        };
        return m.iter().skip(start).take(rows).copied().collect();
    }
    if l.follow {
        let mut v: Vec<u64> = l
            .buf
            .iter()
            .rev()
            .filter(|(_, x)| source_ok(l.source, x))
            .take(rows)
            .map(|(q, _)| q)
            .collect();
        v.reverse();
        v
    } else {
        l.buf
            .iter()
            .skip(l.top.saturating_sub(first) as usize)
            .filter(|(_, x)| source_ok(l.source, x))
            .take(rows)
            .map(|(q, _)| q)
            .collect()
    }
}

/// Scrolling under a filter moves through the index, not the buffer. Returns false when no
/// filter is set (the caller scrolls the buffer).
pub fn scroll_filtered(s: &mut AppState, a: &super::msg::Action) -> bool {
    use super::msg::Action;
    if s.logs.filter.is_none() {
        return false;
    }
    let rows = log_rows(s);
    let m = &s.logs.matched;
    if m.is_empty() {
        return true;
    }
    let bottom = m.len().saturating_sub(rows);
    let cur = if s.logs.follow {
        bottom
    } else {
        m.partition_point(|q| *q < s.logs.top)
    };
    let next = match a {
        Action::Up => cur.saturating_sub(1),
        Action::Down => cur + 1,
        Action::PageUp => cur.saturating_sub(rows),
        Action::PageDown => cur + rows,
        Action::Top => 0,
        Action::Bottom => bottom,
        _ => cur,
    }
    .min(bottom);
    s.logs.top = m[next];
    s.logs.follow = next >= bottom && !matches!(a, Action::Up | Action::PageUp | Action::Top);
    if s.logs.follow {
        s.logs.unseen = 0;
    }
    true
}

/// `E`: the first error line shown (stderr, or error, exception, traceback, fatal, panic,
/// failed), marked and brought into view.
pub fn first_error(s: &mut AppState) -> Vec<Command> {
    let found = s
        .logs
        .buf
        .iter()
        .find(|(_, l)| passes(s, l) && (l.stderr || looks_like_error(&l.text)))
        .map(|(q, _)| q);
    match found {
        Some(q) => {
            let rows = log_rows(s) as u64;
            s.logs.hit = Some(q);
            s.logs.follow = false;
            s.logs.top = if s.logs.filter.is_some() {
                let i = s.logs.matched.partition_point(|x| *x < q);
                s.logs.matched[i.saturating_sub(rows as usize / 2)]
            } else {
                q.saturating_sub(rows / 2).max(s.logs.buf.first_seq())
            };
        }
        None => set_status(s, Level::Info, "no error lines in the buffer".into()),
    }
    vec![]
}

/// The most text one copy puts in an OSC 52 sequence: terminals drop longer ones (xterm's
/// default limit is about 1 MB of base64; tmux passes up to its own buffer size).
pub const MAX_COPY: usize = 512 * 1024;

/// `y`: copy the selection (`v`), else the marked line (a search hit or error), else the top line
/// when paused, else the newest, to the clipboard of the terminal (OSC 52: works over SSH and in
/// tmux with `set-clipboard on`).
pub fn copy(s: &mut AppState) -> Vec<Command> {
    if let (Some(a), Some(b)) = (s.logs.sel, s.logs.hit) {
        let (lo, hi) = (a.min(b), a.max(b));
        let mut text = String::new();
        let (mut n, mut total) = (0usize, 0usize);
        for (_, l) in s
            .logs
            .buf
            .iter()
            .filter(|(q, l)| (lo..=hi).contains(q) && passes(s, l))
        {
            total += 1;
            if text.len() + l.text.len() + 1 > MAX_COPY {
                continue;
            }
            if n > 0 {
                text.push('\n');
            }
            text.push_str(&l.text);
            n += 1;
        }
        s.logs.sel = None;
        s.logs.hit = None;
        if n == 0 {
            set_status(
                s,
                Level::Info,
                "the selection is no longer in the buffer".into(),
            );
            return vec![];
        }
        let msg = if n < total {
            format!(
                "copied the first {n} of {total} lines ({} characters; terminals drop OSC 52 copies over {} KiB)",
                text.chars().count(),
                MAX_COPY / 1024
            )
        } else {
            format!(
                "copied {n} lines ({} characters) to the clipboard (OSC 52)",
                text.chars().count()
            )
        };
        set_status(s, Level::Info, msg);
        return vec![Command::Copy { text }];
    }
    let rows = log_rows(s);
    let seq = s.logs.hit.or_else(|| {
        let v = visible(s, rows);
        if s.logs.follow {
            v.last().copied()
        } else {
            v.first().copied()
        }
    });
    let Some(line) = seq.and_then(|q| s.logs.buf.get(q)) else {
        set_status(s, Level::Info, "no line to copy".into());
        return vec![];
    };
    let text = line.text.clone();
    set_status(
        s,
        Level::Info,
        format!(
            "copied {} characters to the clipboard (OSC 52)",
            text.chars().count()
        ),
    );
    vec![Command::Copy { text }]
}

/// `v`: start a selection at the marked line, else the newest line shown when following, else
/// the top one (following stops, the screen stays); `v` again drops it.
pub fn toggle_select(s: &mut AppState) -> Vec<Command> {
    if s.logs.sel.take().is_some() {
        s.logs.hit = None;
        return vec![];
    }
    let v = visible(s, log_rows(s));
    let cur = s.logs.hit.or(if s.logs.follow {
        v.last().copied()
    } else {
        v.first().copied()
    });
    let Some(cur) = cur else {
        set_status(s, Level::Info, "no line to select".into());
        return vec![];
    };
    if s.logs.follow {
        s.logs.follow = false;
        s.logs.top = v.first().copied().unwrap_or(cur);
    }
    s.logs.sel = Some(cur);
    s.logs.hit = Some(cur);
    set_status(
        s,
        Level::Info,
        "selecting: ↑↓ PgUp PgDn Home End move the end, y copies, Esc drops".into(),
    );
    vec![]
}

/// The shown line `n` lines after (or before) `from`, stopping at the last (first) one.
fn step(s: &AppState, from: u64, n: usize, back: bool) -> u64 {
    if s.logs.filter.is_some() {
        let m = &s.logs.matched;
        if m.is_empty() {
            return from;
        }
        let i = m.partition_point(|q| *q < from).min(m.len() - 1);
        let j = if back {
            i.saturating_sub(n)
        } else {
            (i + n).min(m.len() - 1)
        };
        return m[j];
    }
    let first = s.logs.buf.first_seq();
    let from = from.max(first);
    let shown = |(q, l): &(u64, &LogLine)| *q != from && passes(s, l);
    let skip = (from - first) as usize;
    let it: Box<dyn Iterator<Item = (u64, &LogLine)>> = if back {
        Box::new(s.logs.buf.iter().take(skip).rev())
    } else {
        Box::new(s.logs.buf.iter().skip(skip))
    };
    let mut at = from;
    for (k, (q, _)) in it.filter(shown).enumerate() {
        if k >= n {
            break;
        }
        at = q;
    }
    at
}

/// Moving the end of a selection: the cursor moves over shown lines and the view follows it.
/// Returns false when no selection is open (the caller scrolls).
pub fn move_cursor(s: &mut AppState, a: &super::msg::Action) -> bool {
    use super::msg::Action;
    let (Some(_), Some(cur)) = (s.logs.sel, s.logs.hit) else {
        return false;
    };
    let rows = log_rows(s).max(1);
    let cur = match a {
        Action::Up => step(s, cur, 1, true),
        Action::Down => step(s, cur, 1, false),
        Action::PageUp => step(s, cur, rows, true),
        Action::PageDown => step(s, cur, rows, false),
        Action::Top => step(s, cur, usize::MAX, true),
        Action::Bottom => step(s, cur, usize::MAX, false),
        _ => cur,
    };
    s.logs.hit = Some(cur);
    if cur < s.logs.top {
        s.logs.top = cur;
    } else if !visible(s, rows).contains(&cur) {
        s.logs.top = step(s, cur, rows - 1, true);
    }
    true
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard. The text is base64, so it
/// cannot carry control sequences.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

pub fn source_ok(src: LogSource, l: &crate::observe::logbuf::LogLine) -> bool {
    match src {
        LogSource::All => true,
        LogSource::Phase(q) => q == l.phase && l.tag.is_none(),
        LogSource::Element(q, i) => q == l.phase && l.element == Some(i) && l.tag.is_none(),
        LogSource::Cloud => l.tag.is_some(),
    }
}

/// Move to the next (or previous) search hit in the logs.
pub fn search_step(s: &mut AppState, backwards: bool) {
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
    let matches =
        |l: &crate::observe::logbuf::LogLine| passes(s, l) && l.text.to_lowercase().contains(&q);
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

pub fn scroll_logs(s: &mut AppState, a: &Action) {
    if move_cursor(s, a) || scroll_filtered(s, a) {
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

/// `t`: the next source shown (all, preprocess, solve, CloudWatch once its lines arrived).
pub fn cycle_source(s: &mut AppState) {
    s.logs.source = match s.logs.source {
        LogSource::All => LogSource::Phase(PhaseId::Preprocess),
        LogSource::Phase(PhaseId::Preprocess) => LogSource::Phase(PhaseId::Solve),
        LogSource::Phase(PhaseId::Solve) if s.logs.cloud => LogSource::Cloud,
        LogSource::Phase(PhaseId::Solve) | LogSource::Cloud | LogSource::Element(..) => {
            LogSource::All
        }
    };
    rebuild(s);
}

/// `}` / `{`: the next (previous) element of the run's swept phase as the source; past the last
/// (first), all lines again.
pub fn step_element(s: &mut AppState, back: bool) {
    let Some(run) = s
        .logs
        .run_id
        .as_deref()
        .and_then(|id| s.runs.iter().find(|r| r.id == id))
    else {
        return;
    };
    let Some(ph) = run.phases.iter().find(|p| !p.elements.is_empty()) else {
        set_status(
            s,
            Level::Info,
            "this run has no sweep: { and } step through a sweep's elements".into(),
        );
        return;
    };
    let n = ph.elements.len() as u32;
    let phase = ph.phase;
    let next = match (s.logs.source, back) {
        (LogSource::Element(p, i), false) if p == phase => (i + 1 < n).then_some(i + 1),
        (LogSource::Element(p, i), true) if p == phase => i.checked_sub(1),
        (_, false) => Some(0),
        (_, true) => Some(n - 1),
    };
    s.logs.source = match next {
        Some(i) => LogSource::Element(phase, i),
        None => LogSource::All,
    };
    rebuild(s);
}

/// `f` / Space: follow the newest lines, or pause where the view is.
pub fn toggle_follow(s: &mut AppState) {
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
}

/// Msg::LogLines: lines of the run followed (lines of another are dropped), and the lines in the
/// writing that changed.
pub fn on_lines(s: &mut AppState, run_id: &str, lines: Vec<LogLine>, live: Vec<LogLine>) {
    if s.logs.run_id.as_deref() == Some(run_id) {
        ingest(s, lines);
        for l in live {
            s.logs.buf.set_live(l);
        }
    }
}

/// The lines in the writing shown under the others: while following, of the sources shown.
pub fn live_shown(s: &AppState) -> Vec<&LogLine> {
    let l = &s.logs;
    if !l.follow {
        return Vec::new();
    }
    l.buf.live().iter().filter(|x| passes(s, x)).collect()
}
