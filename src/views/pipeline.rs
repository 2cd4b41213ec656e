//! The Pipeline view: raw data → preprocess → handoff → solve → plots, as one picture.

use super::{panel, spinner};
use crate::app::state::AppState;
use crate::fmt::duration as fmt_duration;
use crate::observe::sanitize;
use crate::pipeline::RunState;
use crate::project::PhaseId;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let Ok(p) = &s.project else { return };
    let t = &s.theme;
    let run = s.current_run();
    // phases get the spare height for log lines
    let fixed = 3 + 1 + 3 + 1 + 1 + 1 + 3; // raw, arrow, handoff, arrows, plots
    let spare = (area.height as usize).saturating_sub(fixed + 6);
    let phase_h = (3 + spare / 2).clamp(3, 12) as u16;
    let chunks = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(phase_h),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(phase_h),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .split(area);

    // raw data
    let ds: Vec<String> = p
        .preprocess()
        .inputs
        .iter()
        .filter_map(|i| p.datasets.get(i))
        .map(|d| {
            format!(
                "{} · {}/{}",
                d.name,
                p.storage.bucket,
                p.storage.key(&d.path)
            )
        })
        .collect();
    let desc = p
        .preprocess()
        .inputs
        .first()
        .and_then(|i| p.datasets.get(i))
        .and_then(|d| d.description.clone())
        .unwrap_or_default();
    let raw = Paragraph::new(Line::from(vec![
        Span::styled(
            sanitize(&ds.join(", ")).into_owned(),
            Style::default().fg(t.fg),
        ),
        Span::styled(format!("  {}", sanitize(&desc)), t.muted()),
    ]))
    .block(panel(s, "raw data", false));
    f.render_widget(raw, chunks[0]);
    arrow(f, s, chunks[1]);

    for (i, phase) in [(2usize, PhaseId::Preprocess), (6, PhaseId::Solve)] {
        phase_box(f, s, chunks[i], phase);
    }

    // handoff
    let pre = run.and_then(|r| r.phase(PhaseId::Preprocess));
    let (glyph, text, st) = match pre.map(|x| x.state) {
        Some(RunState::Succeeded) => (
            "✔",
            format!("ready: {}", p.handoff.require.join(", ")),
            Style::default().fg(t.ok),
        ),
        Some(RunState::Failed) | Some(RunState::Cancelled) | Some(RunState::Lost) => (
            "✘",
            "no handoff: preprocess did not succeed".to_string(),
            Style::default().fg(t.error),
        ),
        Some(_) => (
            "…",
            format!("waiting for {}", p.handoff.require.join(", ")),
            Style::default().fg(t.running),
        ),
        None => (
            "○",
            format!(
                "solve starts when preprocess wrote {}",
                p.handoff.require.join(", ")
            ),
            t.muted(),
        ),
    };
    let mut spans = vec![
        Span::styled(format!("{glyph} "), st),
        Span::styled(text, st),
    ];
    if let Some(out) = pre.map(|x| x.output.clone()) {
        spans.push(Span::styled(format!("  {}", sanitize(&out)), t.muted()));
    }
    if let Some(fsx) = &p.handoff.fsx_path {
        spans.push(Span::styled(format!("  fsx {}", sanitize(fsx)), t.muted()));
    }
    arrow(f, s, chunks[3]);
    f.render_widget(
        Paragraph::new(Line::from(spans)).block(panel(s, "handoff", false)),
        chunks[4],
    );
    arrow(f, s, chunks[5]);
    arrow(f, s, chunks[7]);

    // plots
    let sol = run.and_then(|r| r.phase(PhaseId::Solve));
    let names: Vec<&str> = p.plots.iter().map(|x| x.name.as_str()).collect();
    let line = match sol.map(|x| x.state) {
        Some(RunState::Succeeded) => Line::from(vec![
            Span::styled("✔ ", Style::default().fg(t.ok)),
            Span::raw(names.join(" · ")),
            Span::styled("   v or 6 opens them", t.muted()),
        ]),
        _ => Line::from(vec![Span::styled(names.join(" · "), t.muted())]),
    };
    let mut lines = vec![line];
    if run.is_none() {
        lines.insert(
            0,
            Line::from(Span::styled(
                "No run yet: press r to run the whole pipeline, p or s for one phase.",
                Style::default().fg(t.accent),
            )),
        );
    }
    if chunks[8].height >= 3 {
        let h = chunks[8].height.min(lines.len() as u16 + 2);
        f.render_widget(
            Paragraph::new(lines).block(panel(s, "plots", false)),
            Rect {
                height: h,
                ..chunks[8]
            },
        );
    }
}

/// A sweep's elements, each a cell coloured by its state: a table of the first parameter's values
/// by the second's where the sweep is a grid of two, else cells in rows; above them, how many are
/// in each state.
fn sweep_grid(
    s: &AppState,
    pr: &crate::pipeline::PhaseRun,
    width: u16,
    rows: u16,
) -> Vec<Line<'static>> {
    let t = &s.theme;
    let mut counts = vec![Span::styled(
        format!("{} elements ", pr.elements.len()),
        Style::default().fg(t.fg),
    )];
    for (st, n) in pr.counts() {
        counts.push(Span::styled(
            format!(" {} {n} {st}", st.glyph()),
            t.state(st),
        ));
    }
    let retried = pr
        .elements
        .iter()
        .filter(|e| !e.attempts.is_empty())
        .count();
    if retried > 0 {
        counts.push(Span::styled(
            format!("  ↻ {retried} tried again"),
            Style::default().fg(t.warn),
        ));
    }
    let mut lines = vec![Line::from(counts)];
    let cell = |st: RunState, w: usize| Span::styled(format!("{:<w$}", "██"), t.state(st));
    // the distinct values of each parameter, in order
    let names: Vec<&str> = pr
        .elements
        .first()
        .map(|e| e.params.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let values = |k: usize| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for e in &pr.elements {
            let x = e
                .params
                .get(k)
                .map(|(_, x)| x.to_string())
                .unwrap_or_default();
            if !v.contains(&x) {
                v.push(x);
            }
        }
        v
    };
    if names.len() == 2 {
        let (a, b) = (values(0), values(1));
        let lw = a
            .iter()
            .map(|x| x.len())
            .max()
            .unwrap_or(1)
            .max(names[0].len());
        let cw = b.iter().map(|x| x.len()).max().unwrap_or(1).max(2) + 1;
        let fits = a.len() * b.len() == pr.elements.len()
            && lw + 1 + cw * b.len() <= width as usize
            && a.len() + 2 <= rows as usize;
        if fits {
            let mut head = vec![Span::styled(format!("{:<lw$} ", names[0]), t.muted())];
            for x in &b {
                head.push(Span::styled(format!("{:<cw$}", sanitize(x)), t.muted()));
            }
            head.push(Span::styled(format!("← {}", names[1]), t.muted()));
            lines.push(Line::from(head));
            for (i, x) in a.iter().enumerate() {
                let mut row = vec![Span::styled(format!("{:<lw$} ", sanitize(x)), t.muted())];
                for j in 0..b.len() {
                    let st = pr.elements[i * b.len() + j].state;
                    row.push(cell(st, cw));
                }
                lines.push(Line::from(row));
            }
            return lines;
        }
    }
    // cells in rows, one column each
    let per = (width as usize).max(1);
    for chunk in pr
        .elements
        .chunks(per)
        .take(rows.saturating_sub(1).max(1) as usize)
    {
        lines.push(Line::from(
            chunk
                .iter()
                .map(|e| Span::styled("■", t.state(e.state)))
                .collect::<Vec<_>>(),
        ));
    }
    lines
}

fn arrow(f: &mut Frame, s: &AppState, area: Rect) {
    if area.height > 0 {
        f.render_widget(Paragraph::new(Span::styled("    │", s.theme.muted())), area);
    }
}

fn phase_box(f: &mut Frame, s: &AppState, area: Rect, phase: PhaseId) {
    let Ok(p) = &s.project else { return };
    let t = &s.theme;
    let pr = s.current_run().and_then(|r| r.phase(phase));
    let state = pr.map(|x| x.state);
    let n = if phase == PhaseId::Preprocess { 1 } else { 2 };
    // where it ran (the run's placement), or where it would run on the target now
    let placement = pr
        .map(|x| x.placement.clone())
        .unwrap_or_else(|| crate::pipeline::Placement::decide(p, &s.target, phase));
    let mut title = format!(
        "{n} {phase} · {}",
        crate::observe::sanitize(&placement.label())
    );
    // the engine's own id: the Slurm job, with its state detail (PENDING (Priority), ...)
    if let Some(id) = pr.and_then(|x| x.engine_id.as_deref()) {
        title.push_str(&format!(" · job {}", crate::observe::sanitize(id)));
    }
    let mut right = match (state, pr) {
        (Some(st), Some(x)) => {
            let g = if st.is_active() {
                spinner(s)
            } else {
                st.glyph()
            };
            let d = x.duration(s.now).map(fmt_duration).unwrap_or_default();
            vec![
                Span::styled(format!(" {g} {st} "), t.state(st)),
                Span::styled(format!("{d} "), Style::default().fg(t.fg)),
            ]
        }
        _ => vec![Span::styled(" ○ not run ", t.muted())],
    };
    // live numbers while it runs
    let samples: Vec<&crate::pipeline::runner::MetricSample> = s
        .metrics
        .samples
        .iter()
        .filter(|(ph, _)| *ph == phase)
        .map(|(_, x)| x)
        .collect();
    if let (Some(last), Some(RunState::Running)) = (samples.last(), state) {
        right.insert(
            0,
            Span::styled(
                format!(
                    " cpu {:.0}% rss {} ",
                    last.cpu_pct,
                    crate::fmt::bytes(last.rss_bytes)
                ),
                Style::default().fg(t.accent),
            ),
        );
    }
    let block = panel(s, title, state.is_some_and(|x| x.is_active()))
        .title_top(Line::from(right).right_aligned());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(x) = pr.filter(|x| !x.elements.is_empty()) {
        // a sweep: its elements as a grid coloured by state, then what the first failure said
        lines.extend(sweep_grid(
            s,
            x,
            inner.width,
            inner.height.saturating_sub(1),
        ));
        if let Some(e) = x
            .elements
            .iter()
            .find(|e| matches!(e.state, RunState::Failed | RunState::Lost))
        {
            lines.push(Line::from(Span::styled(
                format!(
                    "[{}] {}: {}",
                    e.index,
                    sanitize(&e.label()),
                    sanitize(e.message.as_deref().unwrap_or(e.state.as_str()))
                ),
                Style::default().fg(t.error),
            )));
        }
    } else if let Some(x) = pr {
        // with reuse: why it ran (a reused phase's message says whose outputs it took)
        if let Some(crate::pipeline::reuse::Verdict::Run { why }) = &x.reuse {
            lines.push(Line::from(Span::styled(
                format!("ran: {}", sanitize(why)),
                t.muted(),
            )));
        }
        // tries before this one, and why each was tried again
        if let Some(last) = x.attempts.last() {
            let asked = [
                last.memory_gb.map(|m| format!("{m:.1} GiB")),
                last.time_limit.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            lines.push(Line::from(Span::styled(
                format!(
                    "↻ try {}: the last ended {} (it asked for {})",
                    x.attempts.len() + 1,
                    sanitize(&last.reason),
                    if asked.is_empty() {
                        "the defaults".into()
                    } else {
                        asked
                    }
                ),
                Style::default().fg(t.warn),
            )));
        }
        if let Some(m) = &x.message {
            let c = if x.state == RunState::Succeeded {
                t.muted
            } else {
                t.error
            };
            let code = x
                .exit_code
                .filter(|c| *c != 0)
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!("{}{code}", sanitize(m)),
                Style::default().fg(c).add_modifier(Modifier::BOLD),
            )));
        }
    }
    // the newest log lines of this phase
    let want = (inner.height as usize).saturating_sub(lines.len());
    let logs: Vec<&crate::observe::logbuf::LogLine> = s
        .logs
        .buf
        .iter()
        .rev()
        .filter(|(_, l)| l.phase == phase && !l.text.trim().is_empty())
        .take(want)
        .map(|(_, l)| l)
        .collect();
    for l in logs.into_iter().rev() {
        let st = if l.stderr {
            Style::default().fg(t.warn)
        } else {
            Style::default().fg(t.fg)
        };
        lines.push(Line::from(vec![
            Span::styled("▸ ", t.muted()),
            Span::styled(l.text.clone(), st),
        ]));
    }
    if lines.is_empty() {
        let out = pr.map(|x| x.output.clone()).unwrap_or_else(|| {
            format!(
                "{}/{}",
                p.storage.bucket,
                p.storage.key(&p.phase(phase).output)
            )
        });
        lines.push(Line::from(Span::styled(
            format!("output {}", sanitize(&out)),
            t.muted(),
        )));
    }
    // a CPU sparkline on the right when there is room
    if inner.width >= 100 && !samples.is_empty() && inner.height >= 2 {
        let [text_area, spark_area] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(32)]).areas(inner);
        f.render_widget(Paragraph::new(lines), text_area);
        let data: Vec<u64> = samples
            .iter()
            .rev()
            .take(30)
            .rev()
            .map(|x| x.cpu_pct.round() as u64)
            .collect();
        f.render_widget(
            Sparkline::default()
                .data(&data)
                .max(200)
                .style(Style::default().fg(t.series[0])),
            spark_area,
        );
    } else {
        f.render_widget(Paragraph::new(lines), inner);
    }
}
