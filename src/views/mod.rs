//! Views borrow the state and a theme, and draw. No I/O, no locks; lists draw only visible rows.

mod clusters;
mod datasets;
mod jobs;
mod logs;
mod metrics;
mod picker;
mod pipeline;
pub mod plots;
mod popups;
mod runs;
mod transfers;
pub mod widgets;

use crate::app::state::{AppState, Level, Prompt, View};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

pub use crate::app::layout::plot_cells;

pub fn spinner(s: &AppState) -> &'static str {
    SPINNER[s.spinner % SPINNER.len()]
}

pub fn draw(f: &mut Frame, s: &AppState) {
    let area = f.area();
    f.render_widget(Block::default().style(s.theme.base()), area);
    let [head, tabs, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(f, s, head);
    tab_bar(f, s, tabs);
    match &s.project {
        Err(e) if s.view != View::Runs => project_error(f, s, body, &e.to_string()),
        _ => match s.view {
            View::Pipeline => pipeline::draw(f, s, body),
            View::Datasets => datasets::draw(f, s, body),
            View::Runs => runs::draw(f, s, body),
            View::Logs => logs::draw(f, s, body),
            View::Metrics => metrics::draw(f, s, body),
            View::Plots => plots::draw(f, s, body),
            View::Transfers => transfers::draw(f, s, body),
            View::Jobs => jobs::draw(f, s, body),
            View::Clusters => clusters::draw(f, s, body),
        },
    }
    footer(f, s, foot);
    popups::draw(f, s, area);
}

fn header(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let name = s
        .project
        .as_ref()
        .map(|p| p.name.as_str())
        .unwrap_or("(project file has errors)");
    let mut spans = vec![
        Span::styled(" tandem ", t.header().add_modifier(Modifier::BOLD)),
        Span::styled("│ ", t.header()),
        Span::styled(
            crate::observe::sanitize(name).into_owned(),
            t.header().add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" │ target {} ", s.target), t.header()),
    ];
    if !s.store_desc.is_empty() {
        spans.push(Span::styled(
            format!("│ store {} ", crate::observe::sanitize(&s.store_desc)),
            t.header(),
        ));
    }
    let used: usize = spans.iter().map(|sp| sp.width()).sum();
    spans.push(Span::styled(
        " ".repeat((area.width as usize).saturating_sub(used)),
        t.header(),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn tab_bar(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let mut spans = vec![Span::raw(" ")];
    for (i, v) in View::ALL.iter().enumerate() {
        let title = if area.width < 100 {
            v.short()
        } else {
            v.title()
        };
        let label = format!(" {} {} ", i + 1, title);
        let st = if *v == s.view {
            t.selected()
        } else {
            t.muted()
        };
        spans.push(Span::styled(label, st));
    }
    if let Some((d, tot, _)) = s.transfers.totals() {
        let pct = (d * 100).checked_div(tot).unwrap_or(0);
        spans.push(Span::styled(
            format!("  ⇅ {pct}%"),
            Style::default().fg(t.accent),
        ));
    }
    if let Some(r) = s.active_run().or(s.current_run()) {
        let g = if r.state.is_terminal() {
            r.state.glyph()
        } else {
            spinner(s)
        };
        spans.push(Span::styled(
            format!("  {g} {} {}", r.id, r.state),
            t.state(r.state),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let line = match &s.prompt {
        Some(Prompt::Filter(q)) => Line::from(vec![
            Span::styled("filter: ", t.title()),
            Span::raw(q.clone()),
            Span::styled("▏", Style::default().fg(t.accent)),
            Span::styled("  Enter keep · Esc clear", t.muted()),
        ]),
        Some(Prompt::Search(q)) => Line::from(vec![
            Span::styled("search: ", t.title()),
            Span::raw(q.clone()),
            Span::styled("▏", Style::default().fg(t.accent)),
            Span::styled("  Enter find · Esc close", t.muted()),
        ]),
        Some(Prompt::Path { purpose, text }) => {
            use crate::app::transfers::PathFor;
            let label = match purpose {
                PathFor::Download { key, .. } => format!(
                    "download {} to: ",
                    crate::observe::sanitize(
                        key.rsplit('/').find(|p| !p.is_empty()).unwrap_or(key)
                    )
                ),
                PathFor::Upload { bucket, prefix } => format!(
                    "upload to {}/{} from: ",
                    crate::observe::sanitize(bucket),
                    crate::observe::sanitize(prefix)
                ),
                PathFor::Sync {
                    bucket,
                    prefix,
                    way,
                } => format!(
                    "sync {}/{} {} directory: ",
                    crate::observe::sanitize(bucket),
                    crate::observe::sanitize(prefix),
                    match way {
                        crate::storage::transfer::Direction::Down => "into the",
                        crate::storage::transfer::Direction::Up => "from the",
                    }
                ),
            };
            Line::from(vec![
                Span::styled(label, t.title()),
                Span::raw(crate::observe::sanitize(text).into_owned()),
                Span::styled("▏", Style::default().fg(t.accent)),
                Span::styled("  Enter start · Ctrl-U clear · Esc cancel", t.muted()),
            ])
        }
        None => match &s.status {
            Some(st) => {
                let c = match st.level {
                    Level::Info => t.ok,
                    Level::Warn => t.warn,
                    Level::Error => t.error,
                };
                Line::from(Span::styled(
                    format!(" {}", st.text),
                    Style::default().fg(c),
                ))
            }
            None => Line::from(hints(s)),
        },
    };
    // the cost of watching, right-aligned, when tandem is calling AWS for it
    match crate::app::status::cost_note(s) {
        Some(note) if area.width as usize > note.chars().count() + 20 => {
            let w = note.chars().count() as u16 + 2;
            let [left, right] =
                Layout::horizontal([Constraint::Min(1), Constraint::Length(w)]).areas(area);
            f.render_widget(Paragraph::new(line), left);
            f.render_widget(
                Paragraph::new(Span::styled(format!("{note} "), t.muted()))
                    .alignment(ratatui::layout::Alignment::Right),
                right,
            );
        }
        _ => f.render_widget(Paragraph::new(line), area),
    }
}

/// The footer's key hints: the bindings of this view that carry a short hint, then the global ones.
fn hints(s: &AppState) -> Vec<Span<'static>> {
    let t = &s.theme;
    let mut out = vec![Span::raw(" ")];
    for b in crate::app::keys::table(s.view)
        .iter()
        .filter(|b| !b.short.is_empty())
    {
        out.push(Span::styled(
            b.label.to_string(),
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        ));
        out.push(Span::styled(format!(" {}  ", b.short), t.muted()));
    }
    out
}

fn project_error(f: &mut Frame, s: &AppState, area: Rect, msg: &str) {
    let t = &s.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.error))
        .title(Span::styled(
            " project file error ",
            Style::default().fg(t.error).add_modifier(Modifier::BOLD),
        ));
    let text = vec![
        Line::from(Span::styled(crate::observe::sanitize(msg).into_owned(), Style::default().fg(t.error))),
        Line::from(""),
        Line::from(Span::styled("Fix the file and start tandem again; `tandem check FILE` validates it without the TUI.", t.muted())),
        Line::from(Span::styled("Runs (3) still shows the journal. q quits.", t.muted())),
    ];
    f.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}

/// A bordered block with a title in the theme's style.
pub fn panel<'a>(s: &AppState, title: impl Into<String>, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(s.theme.border(focused))
        .title(Span::styled(format!(" {} ", title.into()), s.theme.title()))
}
