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
