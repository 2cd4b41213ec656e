//! The Runs view: every run in the journal, newest first.

use super::panel;
use crate::app::state::AppState;
use crate::fmt::duration as fmt_duration;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
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
                    Span::styled(
                        format!("{}{} ", &p.phase.as_str()[..3], p.state.glyph()),
                        t.state(p.state),
                    )
                })
                .collect();
            let mut cells = vec![
                Cell::from(if s.current.as_deref() == Some(&r.id) {
                    format!("▶ {}", r.id)
                } else {
                    format!("  {}", r.id)
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
