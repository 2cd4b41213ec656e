//! The Runs view: every run in the journal, newest first.

use super::panel;
use crate::app::state::AppState;
use crate::fmt::duration as fmt_duration;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    if let Some(d) = &s.runs_view.diff {
        return draw_diff(f, s, d, area);
    }
    let t = &s.theme;
    let vis = s.visible_runs();
    let mut title = format!("runs · {}", vis.len());
    if !s.runs_view.filter.is_empty() {
        title.push_str(&format!(" · filter: {}", s.runs_view.filter));
    }
    let block = panel(s, title, true);
    if vis.is_empty() {
        let msg = if s.runs.is_empty() {
            "No runs yet. Press 1 then r to run the pipeline."
        } else {
            "No run matches the filter."
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(block),
            area,
        );
        return;
    }
    let h = block.inner(area).height.saturating_sub(1) as usize;
    let start = s.runs_view.selected.saturating_sub(h.saturating_sub(1));
    let wide = area.width >= 120;
    let rows = vis
        .iter()
        .enumerate()
        .skip(start)
        .take(h.max(1))
        .map(|(i, r)| {
            let phases: Vec<Span> = r
                .phases
                .iter()
                .map(|p| {
                    // a sweep: how many of its elements succeeded
                    let of = if p.elements.is_empty() {
                        String::new()
                    } else {
                        let ok = p
                            .elements
                            .iter()
                            .filter(|e| e.state == crate::pipeline::RunState::Succeeded)
                            .count();
                        format!("{ok}/{}", p.elements.len())
                    };
                    // tried again: how many times
                    let tries = p.attempts.len()
                        + p.elements.iter().map(|e| e.attempts.len()).sum::<usize>();
                    let again = if tries > 0 {
                        format!("↻{tries}")
                    } else {
                        String::new()
                    };
                    Span::styled(
                        format!("{}{}{of}{again} ", &p.phase.as_str()[..3], p.state.glyph()),
                        t.state(p.state),
                    )
                })
                .collect();
            let marked = s.runs_view.marked.contains(&r.id);
            let mut cells = vec![
                Cell::from(match (s.current.as_deref() == Some(&r.id), marked) {
                    (_, true) => format!("= {}", r.id),
                    (true, false) => format!("▶ {}", r.id),
                    (false, false) => format!("  {}", r.id),
                }),
                Cell::from(Span::styled(
                    format!("{} {}", r.state.glyph(), r.state),
                    t.state(r.state),
                )),
                Cell::from(ratatui::text::Line::from(phases)),
                Cell::from(
                    r.started()
                        .map(|x| {
                            x.with_timezone(&chrono::Local)
                                .format("%m-%d %H:%M:%S")
                                .to_string()
                        })
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(r.duration(s.now).map(fmt_duration).unwrap_or_default()),
            ];
            if wide {
                cells.push(Cell::from(r.target.clone()));
                cells.push(Cell::from(
                    crate::observe::sanitize(&r.project).into_owned(),
                ));
            }
            let row = Row::new(cells);
            if i == s.runs_view.selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Length(23),
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Length(15),
        Constraint::Length(8),
    ];
    let mut header = vec!["  id", "state", "phases", "started", "took"];
    if wide {
        widths.extend([Constraint::Length(10), Constraint::Min(10)]);
        header.extend(["target", "project"]);
    }
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(t.muted()))
            .block(block),
        area,
    );
}

/// `=`: two runs side by side, what differs marked `≠` in the warning colour.
fn draw_diff(f: &mut Frame, s: &AppState, d: &crate::pipeline::diff::RunDiff, area: Rect) {
    use crate::pipeline::diff::ProjectDiff;
    use ratatui::style::{Modifier, Style};
    use ratatui::text::Line;
    let t = &s.theme;
    let clean = |x: &str| crate::observe::sanitize(x).into_owned();
    let w = ((area.width as usize).saturating_sub(26) / 2).clamp(8, 60);
    let mut lines: Vec<Line> = Vec::new();
    let row = |name: &str, a: &str, b: &str| -> Line<'static> {
        let differs = a != b;
        let st = if differs {
            Style::default().fg(t.warn)
        } else {
            Style::default().fg(t.fg)
        };
        Line::from(vec![
            Span::styled(if differs { "≠ " } else { "  " }, st),
            Span::styled(format!("{:<21} ", clean(name)), t.muted()),
            Span::styled(format!("{:<w$} ", clean(a)), st),
            Span::styled(clean(b), st),
        ])
    };
    let head = |text: String| {
        Line::from(Span::styled(
            text,
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        ))
    };
    lines.push(Line::from(Span::styled(
        format!("  {:<21} {:<w$} {}", "", clean(&d.a), clean(&d.b)),
        Style::default().fg(t.accent),
    )));
    for x in &d.runs {
        lines.push(row(&x.name, &x.a, &x.b));
    }
    match &d.project {
        ProjectDiff::Same => lines.push(head("project file: the same".into())),
        ProjectDiff::NotKept { hash } => lines.push(head(format!(
            "project file: the text of {} was not kept",
            clean(hash)
        ))),
        ProjectDiff::Changed { keys } => {
            lines.push(head(format!("project file: {} key(s) differ", keys.len())));
            for k in keys {
                lines.push(row(
                    &k.key,
                    k.a.as_deref().unwrap_or("(none)"),
                    k.b.as_deref().unwrap_or("(none)"),
                ));
            }
        }
    }
    for ph in &d.phases {
        lines.push(head(ph.phase.to_string()));
        for x in &ph.fields {
            lines.push(row(&x.name, &x.a, &x.b));
        }
        let i = &ph.inputs;
        lines.push(Line::from(Span::styled(
            format!(
                "  inputs: {} the same, {} changed, {} only in the first, {} only in the second{}",
                i.same,
                i.changed.len(),
                i.only_a.len(),
                i.only_b.len(),
                i.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            t.muted(),
        )));
        for c in &i.changed {
            lines.push(row(&c.key, &c.a, &c.b));
        }
        for e in &ph.elements {
            lines.push(row(
                &format!("[{}]", e.params),
                e.a.as_deref().unwrap_or("-"),
                e.b.as_deref().unwrap_or("-"),
            ));
        }
    }
    if !d.series.is_empty() {
        lines.push(head("last values".into()));
        let v = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
        for x in &d.series {
            lines.push(row(&format!("{} · {}", x.plot, x.column), &v(x.a), &v(x.b)));
        }
    }
    let block = panel(
        s,
        format!("runs compared · {} and {}", clean(&d.a), clean(&d.b)),
        true,
    )
    .title_bottom(Span::styled(
        " ↑↓ scroll · v plots of both, compared · Esc back ",
        t.muted(),
    ));
    let rows = block.inner(area).height as usize;
    let top = s.runs_view.diff_top.min(lines.len().saturating_sub(rows));
    let shown: Vec<Line> = lines.into_iter().skip(top).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
}
