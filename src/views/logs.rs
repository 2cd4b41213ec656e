//! The Logs view: a live tail of a run's stdout and stderr, from the bounded ring buffer. Only the
//! visible lines are turned into text for the frame.

use super::panel;
use crate::app::logs::LogSource;
use crate::app::state::AppState;
use crate::observe::logbuf::LogLine;
use crate::project::PhaseId;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let l = &s.logs;
    if let Some(b) = &l.browse {
        return draw_browse(f, s, b, area);
    }
    let run = l.run_id.clone().unwrap_or_else(|| "no run".into());
    let src = match l.source {
        LogSource::All => "all".to_string(),
        LogSource::Phase(p) => p.to_string(),
        LogSource::Element(p, i) => {
            let label = l
                .run_id
                .as_deref()
                .and_then(|id| s.runs.iter().find(|r| r.id == id))
                .and_then(|r| r.phase(p))
                .and_then(|ph| ph.elements.iter().find(|e| e.index == i))
                .map(|e| format!(" {}", crate::observe::sanitize(&e.label())))
                .unwrap_or_default();
            format!("{p}[{i}]{label}")
        }
        LogSource::Cloud => "cloudwatch".to_string(),
    };
    let mode = if l.follow {
        Span::styled(" ● following ", Style::default().fg(t.ok))
    } else {
        Span::styled(
            format!(" ‖ paused +{} new ", l.unseen),
            Style::default().fg(t.warn),
        )
    };
    let shown = match &l.filter {
        Some(f) => format!(
            "{} of {} lines · filter {}`{}`",
            l.matched.len(),
            l.buf.len(),
            if f.invert { "not " } else { "" },
            f.text.trim_start_matches('!')
        ),
        None => format!("{} lines", l.buf.len()),
    };
    let info = format!(
        " {shown} · wrap {}{} · source {} {}",
        if l.wrap { "on" } else { "off" },
        if l.raw { " · raw bytes" } else { "" },
        src,
        l.search
            .as_ref()
            .map(|q| format!("· search `{q}` "))
            .unwrap_or_default()
    );
    let block = panel(s, format!("logs · {run}"), true)
        .title_bottom(Line::from(vec![mode, Span::styled(info, t.muted())]));
    let inner = block.inner(area);
    let rows = inner.height as usize;
    // `v`: the selected lines, from where it started to the cursor
    let selected = match (l.sel, l.hit) {
        (Some(a), Some(b)) => a.min(b)..=a.max(b),
        #[allow(clippy::reversed_empty_ranges)]
        _ => 1..=0,
    };
    let live = crate::app::logs::live_shown(s);
    let visible: Vec<(u64, &LogLine)> = crate::app::logs::visible(s, rows)
        .into_iter()
        .filter_map(|q| Some((q, l.buf.get(q)?)))
        .collect();
    if visible.is_empty() && live.is_empty() {
        let msg = if l.run_id.is_none() {
            "No run selected: start one with r in the Pipeline view, or pick one in Runs."
        } else if l.filter.is_some() {
            "No line passes the filter (& to change it, Esc in the prompt clears it)."
        } else {
            "No log lines yet."
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(block),
            area,
        );
        return;
    }
    let q = l.search.as_ref().map(|q| q.to_lowercase());
    let hl = Style::default()
        .fg(t.bg)
        .bg(t.highlight)
        .add_modifier(Modifier::BOLD);
    let line_of = |x: &LogLine| -> Line<'static> {
        let (tag, c) = match (&x.tag, x.phase, x.element) {
            (Some(tag), _, _) => (short_tag(tag), tag_colour(s, tag)),
            (None, p, Some(i)) => (
                format!("{}{i}", &p.as_str()[..1]),
                t.series[i as usize % t.series.len()],
            ),
            (None, PhaseId::Preprocess, None) => ("pre".into(), t.series[0]),
            (None, PhaseId::Solve, None) => ("sol".into(), t.series[1]),
        };
        let mut spans = Vec::with_capacity(4);
        if l.stamps {
            let at = chrono::DateTime::from_timestamp_millis(x.at)
                .map(|t| t.format("%H:%M:%S%.3f ").to_string())
                .unwrap_or_else(|| "--:--:--.--- ".into());
            spans.push(Span::styled(at, t.muted()));
        }
        spans.push(Span::styled(
            format!(
                "{tag:<w$}{} ",
                if x.stderr { "!" } else { " " },
                w = if l.cloud { 10 } else { 3 }
            ),
            Style::default().fg(c),
        ));
        let base = if x.stderr {
            Style::default().fg(t.warn)
        } else {
            Style::default().fg(t.fg)
        };
        let (text, own): (std::borrow::Cow<str>, _) = if l.raw && !x.raw_kept() {
            // older than the raw forms a buffer keeps: its text, marked
            spans.push(Span::styled("[raw not kept] ", t.muted()));
            (x.text.as_str().into(), &[][..])
        } else if l.raw {
            (x.raw(), &[][..])
        } else {
            (x.text.as_str().into(), x.spans())
        };
        let text = text.as_ref();
        let style_at = |st: &crate::observe::ansi::Style| t.log_style(s.color_depth, base, st);
        let found = match &q {
            Some(q) if !q.is_empty() => matches(text, q),
            _ => Vec::new(),
        };
        spans.extend(styled(text, own, &style_at, base, &found, hl));
        Line::from(spans)
    };
    let mut lines: Vec<Line> = visible
        .iter()
        .map(|(seq, x)| {
            let line = line_of(x);
            if Some(*seq) == l.hit {
                line.style(Style::default().add_modifier(Modifier::REVERSED))
            } else if selected.contains(seq) {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    // lines in the writing (progress bars redrawn in place) under the others, in their last state
    lines.extend(live.iter().map(|x| line_of(x)));
    let over = lines.len().saturating_sub(rows);
    lines.drain(..over);
    let mut p = Paragraph::new(lines).block(block);
    if l.wrap {
        p = p.wrap(Wrap { trim: false });
    }
    f.render_widget(p, area);
}

/// A CloudWatch line's label: the stream name's last part, at most 10 characters.
fn short_tag(tag: &str) -> String {
    let name = tag.rsplit('/').next().unwrap_or(tag);
    let n = name.chars().count();
    if n > 10 {
        // the end tells streams apart (ip-10-0-0-1.i-0abc.slurmctld, compute-1.slurmd)
        std::iter::once('…')
            .chain(name.chars().skip(n - 9))
            .collect()
    } else {
        name.to_string()
    }
}

/// A colour per stream, from the theme's series after the two phases'.
fn tag_colour(s: &AppState, tag: &str) -> ratatui::style::Color {
    let h = tag
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    let series = &s.theme.series;
    if series.len() > 2 {
        series[2 + (h as usize) % (series.len() - 2)]
    } else {
        s.theme.accent
    }
}

/// Where `q` (lower case) is found in `text`, case-insensitively: byte ranges.
fn matches(text: &str, q: &str) -> Vec<std::ops::Range<usize>> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // lowercasing changed byte offsets (rare scripts): no highlight rather than wrong slices
        return Vec::new();
    }
    lower
        .match_indices(q)
        .map(|(i, m)| i..i + m.len())
        .collect()
}

/// `text` as spans: each part in the line's own style (`own`, drawn by `style_of`) or `base`,
/// and the search's matches (`found`) in `hl` over both.
fn styled(
    text: &str,
    own: &[crate::observe::ansi::Span],
    style_of: &dyn Fn(&crate::observe::ansi::Style) -> Style,
    base: Style,
    found: &[std::ops::Range<usize>],
    hl: Style,
) -> Vec<Span<'static>> {
    if own.is_empty() && found.is_empty() {
        return vec![Span::styled(text.to_string(), base)];
    }
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for o in own {
        cuts.extend([o.start as usize, o.end as usize]);
    }
    for f in found {
        cuts.extend([f.start, f.end]);
    }
    cuts.retain(|c| *c <= text.len() && text.is_char_boundary(*c));
    cuts.sort_unstable();
    cuts.dedup();
    let (mut oi, mut fi) = (0, 0);
    let mut out = Vec::with_capacity(cuts.len());
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        while oi < own.len() && (own[oi].end as usize) <= a {
            oi += 1;
        }
        while fi < found.len() && found[fi].end <= a {
            fi += 1;
        }
        let style = if fi < found.len() && found[fi].start <= a {
            hl
        } else if oi < own.len() && (own[oi].start as usize) <= a {
            style_of(&own[oi].style)
        } else {
            base
        };
        out.push(Span::styled(text[a..b].to_string(), style));
    }
    out
}

/// `C`: the CloudWatch log groups of the target's account and region, or one group's streams.
fn draw_browse(f: &mut Frame, s: &AppState, b: &crate::app::cloudwatch::Browse, area: Rect) {
    let l = &b.list;
    match &b.group {
        None => super::picker::draw_pick(
            f,
            s,
            l,
            format!("cloudwatch log groups · target {}", s.target),
            "opens",
            &format!(
                "No log groups here. ParallelCluster writes {}CLUSTER-…, HyperPod {}NAME/ID; name them in the target's log_groups to follow them with its runs.",
                crate::observe::cloudwatch::SUGGESTED_GROUP_PREFIXES[0],
                crate::observe::cloudwatch::SUGGESTED_GROUP_PREFIXES[1]
            ),
            area,
        ),
        Some(g) => super::picker::draw_pick(
            f,
            s,
            l,
            format!(
                "streams of {g} · {}",
                if l.marked.is_empty() {
                    "none marked: Enter tails the whole group".to_string()
                } else {
                    format!("{} marked", l.marked.len())
                }
            ),
            "tails",
            "No streams in this group.",
            area,
        ),
    }
}
