//! The Transfers view: every download and upload of this session with a gauge, throughput, ETA and
//! how it ended; the total over the running ones in the title.

use super::panel;
use crate::app::state::AppState;
use crate::app::transfers::{Direction, Transfer, TransferState};
use crate::fmt::bytes as human_bytes;
use crate::fmt::duration as fmt_duration;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// A text gauge `████▌░░░` of `width` cells (eighths for the partial cell).
pub fn bar(fraction: f64, width: usize) -> String {
    const PART: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (fraction.clamp(0.0, 1.0) * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let mut s = "█".repeat(full);
    if full < width {
        let p = PART[eighths % 8];
        s.push(if p == ' ' { '░' } else { p });
        s.push_str(&"░".repeat(width - full - 1));
    }
    s
}

fn rate(r: Option<f64>) -> String {
    r.map(|r| format!("{}/s", human_bytes(r as u64)))
        .unwrap_or_default()
}

fn state_text(x: &Transfer) -> String {
    match &x.state {
        TransferState::Running => match x.eta_secs() {
            Some(e) => format!("ETA {}", fmt_duration(chrono::Duration::seconds(e as i64))),
            None => "starting".into(),
        },
        TransferState::Done => "done".into(),
        TransferState::Cancelled => "cancelled".into(),
        TransferState::Failed(_) => "failed".into(),
        TransferState::Exists(_) => "waiting: replace?".into(),
    }
}

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let list = &s.transfers.list;
    let mut title = format!("transfers · {}", list.len());
    if let Some((d, tot, r)) = s.transfers.totals() {
        title.push_str(&format!(
            " · running {} of {} at {}",
            human_bytes(d),
            human_bytes(tot),
            rate(Some(r))
        ));
    }
    let block = panel(s, title, true);
    if list.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "No transfers yet. In Datasets (2), d downloads the selected object or folder and u uploads a file or directory into the current prefix.",
                t.muted(),
            ))
            .wrap(Wrap { trim: false })
            .block(block),
            area,
        );
        return;
    }
    // the selected transfer's error (or path question) gets the lines under the table
    let detail = match s.transfers.list.get(s.transfers.selected).map(|x| &x.state) {
        Some(TransferState::Failed(e)) => {
            Some((format!("error: {}", crate::observe::sanitize(e)), t.error))
        }
        Some(TransferState::Exists(p)) => Some((
            format!(
                "{} exists: answer the question to replace it, or R after moving it",
                crate::observe::sanitize(p)
            ),
            t.warn,
        )),
        _ => None,
    };
    let [top, bottom] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(if detail.is_some() { 3 } else { 0 }),
    ])
    .areas(area);
    let inner_h = block.inner(top).height.saturating_sub(1) as usize;
    let start = s
        .transfers
        .selected
        .saturating_sub(inner_h.saturating_sub(1));
    let wide = area.width >= 110;
    let gauge_w = if wide { 24 } else { 10 };
    let rows = list
        .iter()
        .enumerate()
        .skip(start)
        .take(inner_h.max(1))
        .map(|(i, x)| {
            let (from, to) = x.spec.label();
            let arrow = match x.spec.dir {
                Direction::Down => "↓",
                Direction::Up => "↑",
            };
            let colour = match x.state {
                TransferState::Running => t.accent,
                TransferState::Done => t.ok,
                TransferState::Failed(_) => t.error,
                TransferState::Cancelled | TransferState::Exists(_) => t.warn,
            };
            let p = &x.progress;
            let mut cells = vec![
                Cell::from(format!(
                    "{arrow} {}{from} → {to}",
                    if x.spec.sync { "sync " } else { "" }
                )),
                Cell::from(Line::from(vec![
                    Span::styled(bar(x.fraction(), gauge_w), Style::default().fg(colour)),
                    Span::raw(format!(" {:>3.0}%", x.fraction() * 100.0)),
                ])),
                Cell::from(format!(
                    "{} / {}",
                    human_bytes(p.done),
                    human_bytes(p.total)
                )),
                Cell::from(rate(x.rate())),
                Cell::from(Span::styled(state_text(x), Style::default().fg(colour))),
            ];
            if wide {
                cells.insert(
                    3,
                    Cell::from(format!("{}/{} files", p.files_done, p.files_total)),
                );
            }
            let row = Row::new(cells);
            if i == s.transfers.selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Min(16),
        Constraint::Length(gauge_w as u16 + 5),
        Constraint::Length(if wide { 21 } else { 19 }),
        Constraint::Length(if wide { 11 } else { 10 }),
        Constraint::Length(if wide { 17 } else { 11 }),
    ];
    let mut header = vec!["transfer", "progress", "bytes", "rate", "state"];
    if wide {
        widths.insert(3, Constraint::Length(13));
        header.insert(3, "files");
    }
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(t.muted()))
            .block(block),
        top,
    );
    if let Some((text, c)) = detail {
        f.render_widget(
            Paragraph::new(Span::styled(text, Style::default().fg(c)))
                .wrap(Wrap { trim: false })
                .block(panel(s, "selected", false)),
            bottom,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gauge_fills_in_eighths() {
        assert_eq!(super::bar(0.0, 4), "░░░░");
        assert_eq!(super::bar(1.0, 4), "████");
        assert_eq!(super::bar(0.5, 4), "██░░");
        assert_eq!(super::bar(0.56, 4).chars().nth(2), Some('▎'));
    }
}
