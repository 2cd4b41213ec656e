//! Drawing a [`PickList`](crate::app::picker::PickList): a panel with the rows (a mark, the name,
//! the detail at the right edge), the selected row highlighted, and a bottom line with the
//! counts, the typed text and what Enter does.

use super::{panel, spinner};
use crate::app::picker::PickList;
use crate::app::state::AppState;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// `take`: what Enter does ("opens", "adds"); `empty`: what to say when nothing is listed.
pub fn draw_pick(
    f: &mut Frame,
    s: &AppState,
    list: &PickList,
    title: String,
    take: &str,
    empty: &str,
    area: Rect,
) {
    let t = &s.theme;
    let title = if list.loading {
        format!("{title} {}", spinner(s))
    } else {
        title
    };
    let rows = list.rows();
    let hint = format!(
        " {} of {} · type to narrow{} · Enter {take}{} · Esc back ",
        rows.len(),
        list.items.len(),
        if list.filter.is_empty() {
            String::new()
        } else {
            format!(" `{}`", list.filter)
        },
        if list.markable { " · Space marks" } else { "" },
    );
    let block = panel(s, title, true).title_bottom(Span::styled(hint, t.muted()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(e) = &list.error {
        f.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error)))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    if rows.is_empty() && !list.loading {
        f.render_widget(
            Paragraph::new(Span::styled(empty.to_string(), t.muted())).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let h = inner.height as usize;
    let first = list.selected.saturating_sub(h.saturating_sub(1));
    let w = inner.width as usize;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, (name, detail))| {
            let mark = if list.marked.contains(name) {
                "● "
            } else {
                "  "
            };
            let room = w.saturating_sub(detail.chars().count() + 4);
            let shown: String = name.chars().take(room).collect();
            let pad = room.saturating_sub(shown.chars().count());
            let line = Line::from(vec![
                Span::styled(mark, Style::default().fg(t.accent)),
                Span::raw(shown),
                Span::raw(" ".repeat(pad + 1)),
                Span::styled(detail.clone(), t.muted()),
            ]);
            if i == list.selected {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
