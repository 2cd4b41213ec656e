//! The Jobs view: the Slurm queue of the target's cluster (id, name, user, state, reason, elapsed,
//! nodes), with the partitions (sinfo) one key away.

use super::{panel, spinner};
use crate::app::state::AppState;
use crate::fmt::duration as fmt_duration;
use crate::observe::sanitize;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let j = &s.jobs;
    let vis = j.visible();
    let mut title = format!(
        "jobs · {} · {} of {}",
        j.target.as_deref().unwrap_or("no Slurm target"),
        vis.len(),
        j.jobs.len()
    );
    if !j.filter.is_empty() {
        title.push_str(&format!(" · filter: {}", sanitize(&j.filter)));
    }
    title.push_str(&format!(" · sort: {:?}", j.sort).to_lowercase());
    if j.api_calls > 0 {
        title.push_str(&format!(" · {} AWS calls", j.api_calls));
    }
    if j.loading {
        title.push_str(&format!(" {}", spinner(s)));
    }
    let (list_area, info_area) = match &j.partitions {
        Some(p) => {
            let [a, b] = Layout::vertical([
                Constraint::Min(3),
                Constraint::Length(p.len().min(10) as u16 + 2),
            ])
            .areas(area);
            (a, Some(b))
        }
        None => (area, None),
    };
    let (list_area, log_area) = match &j.log {
        Some(_) => {
            let [a, b] =
                Layout::vertical([Constraint::Percentage(40), Constraint::Min(5)]).areas(list_area);
            (a, Some(b))
        }
        None => (list_area, None),
    };
    let block = panel(s, title, j.log.is_none());
    if let Some(e) = &j.error {
        f.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error)))
                .wrap(Wrap { trim: false })
                .block(block),
            list_area,
        );
    } else if vis.is_empty() {
        let msg = if j.loading {
            "asking squeue…"
        } else {
            "The queue is empty."
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(block),
            list_area,
        );
    } else {
        let h = block.inner(list_area).height.saturating_sub(1) as usize;
        let start = j.selected.saturating_sub(h.saturating_sub(1));
        let rows = vis
            .iter()
            .enumerate()
            .skip(start)
            .take(h.max(1))
            .map(|(i, q)| {
                let colour = match q.state.as_str() {
                    "RUNNING" | "COMPLETING" => t.accent,
                    "PENDING" => t.warn,
                    "COMPLETED" => t.ok,
                    "FAILED" | "TIMEOUT" | "OUT_OF_MEMORY" | "NODE_FAIL" => t.error,
                    _ => t.fg,
                };
                let row = Row::new(vec![
                    Cell::from(sanitize(&q.id).into_owned()),
                    Cell::from(sanitize(&q.name).into_owned()),
                    Cell::from(sanitize(&q.user).into_owned()),
                    Cell::from(Span::styled(
                        sanitize(&q.state).into_owned(),
                        Style::default().fg(colour),
                    )),
                    Cell::from(sanitize(&q.reason).into_owned()),
                    Cell::from(fmt_duration(chrono::Duration::seconds(q.elapsed_s as i64))),
                    Cell::from(q.nodes.to_string()),
                    Cell::from(sanitize(&q.partition).into_owned()),
                ]);
                if i == j.selected {
                    row.style(t.selected())
                } else {
                    row
                }
            });
        let widths = [
            Constraint::Length(9),
            Constraint::Min(12),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Length(9),
        ];
        f.render_widget(
            Table::new(rows, widths)
                .header(
                    Row::new([
                        "id",
                        "name",
                        "user",
                        "state",
                        "reason",
                        "elapsed",
                        "nodes",
                        "partition",
                    ])
                    .style(t.muted()),
                )
                .block(block),
            list_area,
        );
    }
    if let (Some(area), Some(l)) = (log_area, &j.log) {
        log_pane(f, s, l, area);
    }
    if let (Some(area), Some(p)) = (info_area, &j.partitions) {
        let lines: Vec<Line> = p.iter().map(|l| Line::from(l.clone())).collect();
        f.render_widget(
            Paragraph::new(lines).block(panel(s, "partitions (sinfo) · i hides", false)),
            area,
        );
    }
}

/// The followed job log: the newest lines that fit, stderr in the error colour.
fn log_pane(f: &mut Frame, s: &AppState, l: &crate::app::jobs::JobLog, area: Rect) {
    let t = &s.theme;
    let mut title = format!(
        "job {} · {} · {} · {} + {} bytes",
        sanitize(&l.id),
        sanitize(&l.name),
        sanitize(&l.state),
        l.offsets.0,
        l.offsets.1
    );
    if l.loading {
        title.push_str(&format!(" {}", spinner(s)));
    } else if l.done {
        title.push_str(" · ended, read to the end");
    } else if let Some(r) = &l.reading {
        title.push_str(&format!(" · {r}"));
    }
    title.push_str(" · Esc closes");
    let block = panel(s, title, true);
    let h = block.inner(area).height as usize;
    let mut lines: Vec<Line> = Vec::with_capacity(h);
    if let Some(e) = &l.error {
        lines.push(Line::from(Span::styled(
            e.clone(),
            Style::default().fg(t.error),
        )));
    }
    if let Some((o, _)) = &l.paths {
        if l.lines.is_empty() && l.error.is_none() {
            lines.push(Line::from(Span::styled(
                format!("{} is empty so far", sanitize(o)),
                t.muted(),
            )));
        }
    }
    let room = h.saturating_sub(lines.len());
    let skip = l.lines.len().saturating_sub(room);
    lines.extend(l.lines.iter().skip(skip).map(|(err, text)| {
        if *err {
            Line::from(Span::styled(text.clone(), Style::default().fg(t.error)))
        } else {
            Line::from(text.clone())
        }
    }));
    f.render_widget(Paragraph::new(lines).block(block), area);
}
