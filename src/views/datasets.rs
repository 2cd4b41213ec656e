//! The Datasets view: buckets, prefixes as folders, objects; a preview of the selected object.

use super::{panel, spinner};
use crate::app::state::{AppState, RowKind, SortBy};
use crate::fmt::bytes as human_bytes;
use crate::storage::preview::Preview;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let (list_area, prev_area) = if area.width >= 120 {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(area);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
        (a, b)
    };
    list(f, s, list_area);
    preview(f, s, prev_area);
}

fn list(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let d = &s.datasets;
    let loc = match &d.bucket {
        None => "buckets".to_string(),
        Some(b) => crate::observe::sanitize(&format!("{b}/{}", d.prefix)).into_owned(),
    };
    let vis = d.visible();
    let mut title = format!(
        "{loc} · {} item{}",
        vis.len(),
        if vis.len() == 1 { "" } else { "s" }
    );
    if vis.len() != d.rows.len() {
        title.push_str(&format!(" of {}", d.rows.len()));
    }
    if d.loading {
        title.push_str(&format!(" {} loading", spinner(s)));
    }
    let sort = match d.sort {
        SortBy::Name => "name",
        SortBy::Size => "size",
        SortBy::Time => "time",
    };
    let block = panel(s, title, true).title_bottom(Line::from(Span::styled(
        format!(
            " sort: {sort}{} ",
            if d.filter.is_empty() {
                String::new()
            } else {
                format!(" · filter: {}", d.filter)
            }
        ),
        t.muted(),
    )));
    let inner_h = block.inner(area).height.saturating_sub(1) as usize;
    if let Some(e) = &d.error {
        f.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error))).block(block),
            area,
        );
        return;
    }
    // storage class and ETag when there is room for them
    let wide = area.width >= 90;
    // virtualised: only the rows on screen are built
    let start = d.selected.saturating_sub(inner_h.saturating_sub(1));
    let rows = vis
        .iter()
        .enumerate()
        .skip(start)
        .take(inner_h.max(1))
        .map(|(i, r)| {
            let (icon, st) = match r.kind {
                RowKind::Bucket => ("▣ ", Style::default().fg(t.accent)),
                RowKind::Prefix => ("▸ ", Style::default().fg(t.accent)),
                RowKind::Object => ("  ", Style::default().fg(t.fg)),
            };
            let mut cells = vec![
                Cell::from(Span::styled(format!("{icon}{}", r.name()), st)),
                Cell::from(r.size.map(human_bytes).unwrap_or_default()),
                Cell::from(
                    r.modified
                        .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default(),
                ),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(
                    r.class.as_deref().unwrap_or_default().to_string(),
                    t.muted(),
                )));
                cells.push(Cell::from(Span::styled(
                    r.etag
                        .as_ref()
                        .map(|e| e.to_string().chars().take(12).collect::<String>())
                        .unwrap_or_default(),
                    t.muted(),
                )));
            }
            let row = Row::new(cells);
            if i == d.selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let mut widths = vec![
        Constraint::Min(20),
        Constraint::Length(10),
        Constraint::Length(16),
    ];
    let mut header = vec!["name", "size", "modified"];
    if wide {
        widths.extend([Constraint::Length(12), Constraint::Length(12)]);
        header.extend(["class", "etag"]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.muted()))
        .block(block);
    f.render_widget(table, area);
}

fn preview(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let Some((key, res)) = &s.datasets.preview else {
        let msg = if s.datasets.rows.is_empty() && !s.datasets.loading {
            "empty: run the pipeline once to generate the raw data"
        } else {
            "select an object to preview its head"
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(panel(s, "preview", false)),
            area,
        );
        return;
    };
    let title = format!("preview · {}", crate::observe::sanitize(key));
    let block = panel(s, title, false);
    match res {
        Err(e) => f.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error))).block(block),
            area,
        ),
        Ok(Preview::Text { lines, truncated }) => {
            let mut ls: Vec<Line> = lines
                .iter()
                .take(area.height as usize)
                .map(|l| Line::from(l.clone()))
                .collect();
            if *truncated {
                ls.push(Line::from(Span::styled("… (head only)", t.muted())));
            }
            f.render_widget(Paragraph::new(ls).block(block), area);
        }
        Ok(Preview::Binary { hex, size }) => {
            let mut ls: Vec<Line> = vec![Line::from(Span::styled(
                format!("binary, {}", human_bytes(*size)),
                t.muted(),
            ))];
            ls.extend(hex.iter().map(|h| Line::from(h.clone())));
            f.render_widget(Paragraph::new(ls).block(block), area);
        }
        Ok(Preview::Table {
            about,
            header,
            rows,
            truncated,
        }) => table_preview(f, s, block, (about, header, rows, *truncated), area),
    }
}

/// A table preview: what it is above, then its columns from the one scrolled to (`<`/`>`), each
/// as wide as its widest cell (at most 32 columns of text), as many as fit.
fn table_preview(
    f: &mut Frame,
    s: &AppState,
    block: ratatui::widgets::Block,
    (about, header, rows, truncated): (&[String], &[String], &[Vec<String>], bool),
    area: Rect,
) {
    let t = &s.theme;
    let inner = block.inner(area);
    let ncols = rows
        .iter()
        .map(Vec::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0);
    let first = s.datasets.preview_col.min(ncols.saturating_sub(1));
    let cell_w = |c: usize| -> u16 {
        let w = rows
            .iter()
            .take(inner.height as usize)
            .filter_map(|r| r.get(c))
            .chain(header.get(c))
            .map(|x| x.chars().count())
            .max()
            .unwrap_or(1);
        w.clamp(1, 32) as u16
    };
    // the columns that fit, from the first shown
    let mut widths = Vec::new();
    let mut used = 0u16;
    for c in first..ncols {
        let w = cell_w(c);
        if used > 0 && used + w + 1 > inner.width {
            break;
        }
        used += w + 1;
        widths.push(w);
    }
    let shown = first..first + widths.len();
    let pick = |r: &[String]| -> Row {
        Row::new(
            shown
                .clone()
                .map(|c| r.get(c).cloned().unwrap_or_default())
                .collect::<Vec<_>>(),
        )
    };
    let mut bottom = Vec::new();
    if ncols > widths.len() {
        bottom.push(Span::styled(
            format!(
                " columns {}–{} of {ncols} · </> scroll ",
                shown.start + 1,
                shown.end
            ),
            t.muted(),
        ));
    }
    if truncated {
        bottom.push(Span::styled(" head only ", t.muted()));
    }
    let b = block.title_bottom(Line::from(bottom));
    let [top, body] = Layout::vertical([
        Constraint::Length((about.len() as u16).min(inner.height / 2)),
        Constraint::Min(1),
    ])
    .areas(inner);
    f.render_widget(b, area);
    f.render_widget(
        Paragraph::new(
            about
                .iter()
                .map(|l| Line::from(Span::styled(l.clone(), t.muted())))
                .collect::<Vec<_>>(),
        ),
        top,
    );
    let body_rows = rows.iter().take(body.height as usize).map(|r| pick(r));
    f.render_widget(
        Table::new(body_rows, widths.into_iter().map(Constraint::Length))
            .header(pick(header).style(t.title())),
        body,
    );
}
