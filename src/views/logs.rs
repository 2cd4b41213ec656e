//! The Logs view: a live tail of a run's stdout and stderr, from the bounded ring buffer. Only the
//! visible lines are turned into text for the frame.

use super::panel;
use crate::app::state::{AppState, Source};
use crate::app::update::source_ok;
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
    let run = l.run_id.clone().unwrap_or_else(|| "no run".into());
    let src = match l.source {
        Source::All => "all".to_string(),
        Source::Phase(p) => p.to_string(),
    };
    let mode = if l.follow {
        Span::styled(" ● following ", Style::default().fg(t.ok))
    } else {
        Span::styled(
            format!(" ‖ paused +{} new ", l.unseen),
            Style::default().fg(t.warn),
        )
    };
    let info = format!(
        " {} lines · wrap {} · source {} {}",
        l.buf.len(),
        if l.wrap { "on" } else { "off" },
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
    let pick = |(_, x): &(u64, &LogLine)| source_ok(l.source, x.phase);
    let visible: Vec<(u64, &LogLine)> = if l.follow {
        let mut v: Vec<_> = l.buf.iter().rev().filter(pick).take(rows).collect();
        v.reverse();
        v
    } else {
        l.buf
            .iter()
            .skip((l.top.saturating_sub(l.buf.first_seq())) as usize)
            .filter(pick)
            .take(rows)
            .collect()
    };
    if visible.is_empty() {
        let msg = if l.run_id.is_none() {
            "No run selected: start one with r in the Pipeline view, or pick one in Runs."
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
    let lines: Vec<Line> = visible
        .iter()
        .map(|(seq, x)| {
            let (tag, c) = match x.phase {
                PhaseId::Preprocess => ("pre", t.series[0]),
                PhaseId::Solve => ("sol", t.series[1]),
            };
            let mut spans = vec![Span::styled(
                format!("{tag}{} ", if x.stderr { "!" } else { " " }),
                Style::default().fg(c),
            )];
            let base = if x.stderr {
                Style::default().fg(t.warn)
            } else {
                Style::default().fg(t.fg)
            };
            let hl = Style::default()
                .fg(t.bg)
                .bg(t.highlight)
                .add_modifier(Modifier::BOLD);
            match &q {
                Some(q) if !q.is_empty() => spans.extend(highlight(&x.text, q, base, hl)),
                _ => spans.push(Span::styled(x.text.clone(), base)),
            }
            let line = Line::from(spans);
            if Some(*seq) == l.hit {
                line.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    let mut p = Paragraph::new(lines).block(block);
    if l.wrap {
        p = p.wrap(Wrap { trim: false });
    }
    f.render_widget(p, area);
}

/// Split `text` into spans with every case-insensitive match of `q` highlighted.
fn highlight(text: &str, q: &str, base: Style, hl: Style) -> Vec<Span<'static>> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // lowercasing changed byte offsets (rare scripts): no highlight rather than wrong slices
        return vec![Span::styled(text.to_string(), base)];
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = lower[i..].find(q) {
        let s = i + off;
        if s > i {
            out.push(Span::styled(text[i..s].to_string(), base));
        }
        out.push(Span::styled(text[s..s + q.len()].to_string(), hl));
        i = s + q.len();
    }
    if i < text.len() {
        out.push(Span::styled(text[i..].to_string(), base));
    }
    out
}
