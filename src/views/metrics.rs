//! The Metrics view: CPU% and RSS of each phase's process tree, sampled every second.

use super::panel;
use crate::app::state::AppState;
use crate::project::PhaseId;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let m = &s.metrics;
    if let Some(b) = &m.browse {
        return draw_browse(f, s, b, area);
    }
    if m.cloud {
        return draw_cloud(f, s, area);
    }
    if m.samples.is_empty() {
        let msg = match &m.run_id {
            None => "No run selected.".to_string(),
            Some(id) => {
                format!("No samples for {id} yet: they arrive every second while a phase runs.")
            }
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(panel(s, "metrics", true)),
            area,
        );
        return;
    }
    let t0 = m.samples.first().map(|(_, x)| x.at).unwrap_or(s.now);
    let series = |phase: PhaseId,
                  f: &dyn Fn(&crate::pipeline::runner::MetricSample) -> f64|
     -> Vec<(f64, f64)> {
        m.samples
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, x)| ((x.at - t0).num_milliseconds() as f64 / 1000.0, f(x)))
            .collect()
    };
    let cpu = [
        series(PhaseId::Preprocess, &|x| x.cpu_pct),
        series(PhaseId::Solve, &|x| x.cpu_pct),
    ];
    let rss = [
        series(PhaseId::Preprocess, &|x| x.rss_bytes as f64 / 1048576.0),
        series(PhaseId::Solve, &|x| x.rss_bytes as f64 / 1048576.0),
    ];
    let [a, b] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    chart(f, s, a, "CPU % of one core", &cpu, "%");
    chart(f, s, b, "RSS MiB", &rss, "MiB");
}

fn chart(
    f: &mut Frame,
    s: &AppState,
    area: Rect,
    title: &str,
    data: &[Vec<(f64, f64)>; 2],
    unit: &str,
) {
    let t = &s.theme;
    let xmax = data
        .iter()
        .flat_map(|d| d.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let ymax = data
        .iter()
        .flat_map(|d| d.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.1;
    let last = |d: &Vec<(f64, f64)>| {
        d.last()
            .map(|p| format!("{:.0}{unit}", p.1))
            .unwrap_or_else(|| "-".into())
    };
    let sets: Vec<Dataset> = [(PhaseId::Preprocess, 0), (PhaseId::Solve, 1)]
        .iter()
        .filter(|(_, i)| !data[*i].is_empty())
        .map(|(p, i)| {
            Dataset::default()
                .name(format!("{p} {}", last(&data[*i])))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(t.series[*i]))
                .data(&data[*i])
        })
        .collect();
    let axis_style = t.muted();
    let c = Chart::new(sets)
        .block(panel(s, title, false))
        .x_axis(
            Axis::default()
                .style(axis_style)
                .bounds([0.0, xmax])
                .labels(vec![
                    Line::from("0s"),
                    Line::from(format!("{:.0}s", xmax / 2.0)),
                    Line::from(format!("{xmax:.0}s")),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(axis_style)
                .bounds([0.0, ymax])
                .labels(vec![
                    Line::from("0"),
                    Line::from(format!("{:.0}", ymax / 2.0)),
                    Line::from(format!("{ymax:.0}")),
                ]),
        );
    f.render_widget(c, area);
}

/// `c`: the target's CloudWatch metrics, one braille chart each, two columns, with the current
/// run's phase starts and ends marked on the time axis.
fn draw_cloud(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let m = &s.metrics;
    let period = crate::app::metrics::period(s);
    let stat = crate::app::metrics::stat(s).unwrap_or("own statistic");
    let title = format!(
        "cloudwatch · target {} · {period} s · {stat}{}",
        s.target,
        if m.cw_loading {
            format!(" {}", super::spinner(s))
        } else {
            String::new()
        }
    );
    let msg = if let Some(e) = &m.cw_error {
        Some(e.clone())
    } else if m.cw.is_empty() {
        Some("Asking CloudWatch…".to_string())
    } else {
        None
    };
    if let Some(msg) = msg {
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted()))
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(panel(s, title, true)),
            area,
        );
        return;
    }
    let block = panel(s, title, true);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let cols = if inner.width >= 100 { 2 } else { 1 };
    let rows = ((inner.height / 8).max(1)) as usize;
    let per_page = cols * rows;
    let first = m.first.min(m.cw.len().saturating_sub(1)) / per_page * per_page;
    let shown: Vec<&crate::observe::cloudwatch::Series> =
        m.cw.iter().skip(first).take(per_page).collect();
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(inner);
    let now = s.now.timestamp_millis();
    // the run's events: (time, colour)
    let mut events: Vec<(i64, ratatui::style::Color)> = Vec::new();
    if let Some(r) = s.current_run() {
        for p in &r.phases {
            if let Some(st) = p.started {
                events.push((st.timestamp_millis(), t.ok));
            }
            if let Some(en) = p.ended {
                events.push((en.timestamp_millis(), t.state(p.state).fg.unwrap_or(t.fg)));
            }
        }
    }
    for (i, series) in shown.iter().enumerate() {
        let row = row_areas[i / cols];
        let cell = if cols == 2 {
            let [a, b] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(row);
            if i % cols == 0 {
                a
            } else {
                b
            }
        } else {
            row
        };
        cloud_chart(f, s, cell, series, i + first, now, &events);
    }
}

fn cloud_chart(
    f: &mut Frame,
    s: &AppState,
    area: Rect,
    series: &crate::observe::cloudwatch::Series,
    index: usize,
    now: i64,
    events: &[(i64, ratatui::style::Color)],
) {
    let t = &s.theme;
    let pts: Vec<(f64, f64)> = series
        .points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|p| ((p.0 - now) as f64 / 60_000.0, p.1))
        .collect();
    let xmin = pts.first().map(|p| p.0).unwrap_or(-60.0).min(-1.0);
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let (lo, hi) = if pts.is_empty() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo.min(0.0), hi * 1.1)
    } else {
        (lo.min(0.0), hi.abs().max(1.0) * 1.1)
    };
    let last = series
        .last()
        .map(crate::fmt::si)
        .unwrap_or_else(|| "no data".into());
    let marks: Vec<Vec<(f64, f64)>> = events
        .iter()
        .map(|(at, _)| (*at - now) as f64 / 60_000.0)
        .filter(|x| *x >= xmin && *x <= 0.0)
        .map(|x| vec![(x, lo), (x, hi)])
        .collect();
    let colour = t.series[index % t.series.len()];
    let mut sets = vec![Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(colour))
        .data(&pts)];
    for (m, (_, c)) in marks.iter().zip(events.iter().filter(|(at, _)| {
        let x = (*at - now) as f64 / 60_000.0;
        x >= xmin && x <= 0.0
    })) {
        sets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(*c))
                .data(m),
        );
    }
    let title = Line::from(vec![
        Span::styled(format!(" {} ", series.label), Style::default().fg(colour)),
        Span::styled(format!("{last} "), t.title()),
        Span::styled(
            if series.status.is_empty() || series.status == "Complete" {
                String::new()
            } else {
                format!("{} ", series.status)
            },
            Style::default().fg(t.warn),
        ),
    ]);
    let c = Chart::new(sets)
        .block(
            ratatui::widgets::Block::default()
                .borders(ratatui::widgets::Borders::TOP)
                .border_style(t.muted())
                .title(title),
        )
        .x_axis(
            Axis::default()
                .style(t.muted())
                .bounds([xmin, 0.0])
                .labels(vec![
                    Line::from(format!("{:.0}m", xmin)),
                    Line::from(format!("{:.0}m", xmin / 2.0)),
                    Line::from("now"),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(t.muted())
                .bounds([lo, hi])
                .labels(vec![
                    Line::from(crate::fmt::si(lo)),
                    Line::from(crate::fmt::si(hi)),
                ]),
        );
    f.render_widget(c, area);
}

/// `a`: the namespaces CloudWatch has for the target's account, or one namespace's metrics.
fn draw_browse(f: &mut Frame, s: &AppState, b: &crate::app::cloudwatch::MetricBrowse, area: Rect) {
    let l = &b.list;
    match &b.namespace {
        None => super::picker::draw_pick(
            f,
            s,
            l,
            format!("cloudwatch metric namespaces · target {}", s.target),
            "opens",
            "No metrics in this account and region yet (CloudWatch lists a metric once it has data from the last two weeks).",
            area,
        ),
        Some(ns) => super::picker::draw_pick(
            f,
            s,
            l,
            format!(
                "metrics in {ns} · {} · stat {}",
                if l.marked.is_empty() {
                    "Enter adds the selected one".to_string()
                } else {
                    format!("{} marked", l.marked.len())
                },
                crate::app::metrics::stat(s).unwrap_or("Average")
            ),
            "adds to tandem.toml",
            "No metrics in this namespace.",
            area,
        ),
    }
}
