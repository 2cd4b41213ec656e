//! The Logs view's filter, jumps and copy. With a filter (`&`), the lines that pass it (and the
//! source choice) are kept as an index of sequence numbers, built once when the filter changes and
//! extended as lines arrive, so neither following nor scrolling rescans the buffer.

use super::command::Command;
use super::state::{AppState, Level};
use super::update::{log_rows, set_status, source_ok};
use crate::observe::filter::{looks_like_error, LineFilter};
use crate::observe::logbuf::LogLine;

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

/// `y`: copy the marked line (a search hit or error), else the top line when paused, else the
/// newest, to the clipboard of the terminal (OSC 52: works over SSH and in tmux with
/// `set-clipboard on`).
pub fn copy(s: &mut AppState) -> Vec<Command> {
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

/// The OSC 52 sequence that puts `text` on the terminal's clipboard. The text is base64, so it
/// cannot carry control sequences.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}
