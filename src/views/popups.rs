//! Popups: help (the current view's keys, from the same table the dispatcher reads), the command
//! palette, and confirmations.

use crate::app::keys;
use crate::app::state::{AppState, Popup};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    match &s.popup {
        None => {}
        Some(Popup::Help) => {
            let table = keys::table(s.view);
            let rows: Vec<Line> = table
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| {
                    Line::from(vec![
                        Span::styled(
                            format!("{:>9}  ", b.label),
                            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
                        ),
                        Span::styled(b.help, Style::default().fg(t.fg)),
                    ])
                })
                .collect();
            let r = centered(area, 52, rows.len() as u16 + 2);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(rows)
                    .block(super::panel(
                        s,
                        format!("keys · {}  (Esc closes)", s.view.title()),
                        true,
                    ))
                    .style(t.base()),
                r,
            );
        }
        Some(Popup::Palette { query, selected }) => {
            let items = keys::palette_matches(query);
            let h = (items.len() as u16 + 3).clamp(4, 18);
            let r = centered(area, 50, h);
            f.render_widget(Clear, r);
            let mut lines = vec![Line::from(vec![
                Span::styled(": ", Style::default().fg(t.accent)),
                Span::raw(query.clone()),
                Span::styled("▏", Style::default().fg(t.accent)),
            ])];
            let room = h.saturating_sub(3) as usize;
            let start = selected.saturating_sub(room.saturating_sub(1));
            for (i, (label, _)) in items.iter().enumerate().skip(start).take(room) {
                let st = if i == *selected {
                    t.selected()
                } else {
                    Style::default().fg(t.fg)
                };
                lines.push(Line::from(Span::styled(format!(" {label}"), st)));
            }
            if items.is_empty() {
                lines.push(Line::from(Span::styled(" no match", t.muted())));
            }
            f.render_widget(
                Paragraph::new(lines)
                    .block(super::panel(s, "palette · Enter runs · Esc closes", true))
                    .style(t.base()),
                r,
            );
        }
        Some(Popup::Confirm { text, .. }) => {
            let r = centered(area, 60, 5);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(Span::styled(
                    text.clone(),
                    Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
                ))
                .wrap(Wrap { trim: true })
                .block(super::panel(s, "confirm", true))
                .style(t.base()),
                r,
            );
        }
    }
}
