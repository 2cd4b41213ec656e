//! The Plots view: the project's plots of the current run. Heatmaps of field snapshots (half-block
//! cells, colour bar, keys to step through snapshots) and line charts of the series (braille).

use super::widgets::{ColorBar, Heatmap};
use super::{panel, spinner};
use crate::app::state::AppState;
use crate::fmt::sci as fmt_num;
use crate::plot::load::PlotData;
use crate::project::PlotSpec;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    let Ok(p) = &s.project else { return };
    let t = &s.theme;
    let pl = &s.plots;
    if p.plots.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "The project defines no plots ([[plots]] in tandem.toml).",
                t.muted(),
            ))
            .block(panel(s, "plots", true)),
            area,
        );
        return;
    }
    let spec = &p.plots[pl.plot.min(p.plots.len() - 1)];
    // plot tabs
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut spans = vec![Span::raw(" ")];
    for (i, x) in p.plots.iter().enumerate() {
        let st = if i == pl.plot {
            t.selected()
        } else {
            t.muted()
        };
        spans.push(Span::styled(format!(" {} ", x.name), st));
        spans.push(Span::raw(" "));
    }
    if pl.loading {
        spans.push(Span::styled(spinner(s), Style::default().fg(t.accent)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), tabs);
    let run = pl.run_id.clone().unwrap_or_else(|| "no run".into());
    match (&pl.data, &pl.error) {
        (_, Some(e)) => {
            f.render_widget(
                Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error))).block(panel(
                    s,
                    format!("{} · {run}", spec.name),
                    true,
                )),
                body,
            );
        }
        (
            Some(PlotData::Field {
                field, file, stats, ..
            }),
            _,
        ) => heatmap(f, s, body, spec, field, stats, file),
        (Some(PlotData::Series { series, file }), _) => {
            lines(f, s, body, spec, series, file, (&[], ""))
        }
        (
            Some(
                d @ PlotData::Compare {
                    a,
                    b,
                    other,
                    more,
                    elements,
                },
            ),
            _,
        ) => match (a.as_ref(), b.as_ref()) {
            (PlotData::Series { file, .. }, PlotData::Series { .. }) => {
                let over = match (elements, more.is_empty()) {
                    (true, _) => format!(" · {} elements of the sweep", 2 + more.len()),
                    (false, true) => format!(" · over run {}", crate::observe::sanitize(other)),
                    (false, false) => format!(
                        " · over runs {}",
                        std::iter::once(other)
                            .chain(more.iter().map(|(r, _)| r))
                            .map(|r| crate::observe::sanitize(r).into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                if let Some((series, others)) = crate::plot::prepare::overlaid(d) {
                    lines(f, s, body, spec, series, file, (&others, &over))
                }
            }
            (
                PlotData::Field {
                    field, stats, file, ..
                },
                PlotData::Field {
                    field: fb,
                    stats: sb,
                    ..
                },
            ) => side_by_side(f, s, body, spec, (field, stats), (fb, sb), file, other),
            _ => {}
        },
        (None, None) => {
            let msg = if pl.loading {
                "loading…"
            } else {
                "No data yet: run the pipeline (r in the Pipeline view)."
            };
            f.render_widget(
                Paragraph::new(Span::styled(msg, t.muted())).block(panel(
                    s,
                    format!("{} · {run}", spec.name),
                    true,
                )),
                body,
            );
        }
    }
}

fn heatmap(
    f: &mut Frame,
    s: &AppState,
    area: Rect,
    spec: &PlotSpec,
    field: &crate::plot::Field,
    stats: &crate::plot::FieldStats,
    file: &str,
) {
    let t = &s.theme;
    let pl = &s.plots;
    let title = format!(
        "{} · {} · {}x{}",
        spec.name,
        crate::observe::sanitize(file),
        stats.cols,
        stats.rows
    );
    let nan = stats.nonfinite;
    let title = match pl.window {
        Some(w) => format!(
            "{title} · zoom {:.0}x (cols {:.0}–{:.0}, rows {:.0}–{:.0})",
            w.zoom(),
            w.x0 * stats.cols as f64,
            w.x1 * stats.cols as f64,
            w.y0 * stats.rows as f64,
            w.y1 * stats.rows as f64
        ),
        None => title,
    };
    let mut foot = vec![
        Span::styled(
            format!(
                " snapshot {}/{}{} ",
                pl.snapshot + 1,
                pl.files.len(),
                if pl.playing { " ▶" } else { "" }
            ),
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        ),
        Span::styled("←/→ step · Space play · Tab next plot ", t.muted()),
    ];
    if pl.hold.is_some() || spec.range.is_some() {
        foot.push(Span::styled(
            if pl.hold.is_some() {
                "· range held (H) "
            } else {
                "· fixed range "
            },
            Style::default().fg(t.accent),
        ));
    }
    foot.extend(nan_note(s, nan));
    let block = panel(s, title, true).title_bottom(Line::from(foot));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [map_area, bar_area] =
        Layout::horizontal([Constraint::Min(4), Constraint::Length(12)]).areas(inner);
    let range = crate::app::plots::shown_range(s, stats);
    // `d`: the difference of two runs' fields, on a diverging map (the image uses the same)
    let cmap = crate::plot::prepare::shown_cmap(&spec.cmap, pl.diff && pl.compare.is_some());
    // an image for this snapshot and this area: drawn by the terminal's pixel protocol
    let image = pl
        .image
        .as_ref()
        .filter(|i| i.req == pl.req && i.cells == (map_area.width, map_area.height));
    // the map's size in cells: the image's, or the character heatmap's; centred in its area
    let (w, h) = match image {
        Some(img) => {
            let size = img.proto.size();
            (size.width.min(map_area.width), size.height)
        }
        None => Heatmap::fit(field, map_area),
    };
    let r = Rect {
        x: map_area.x + map_area.width.saturating_sub(w) / 2,
        y: map_area.y,
        width: w,
        height: h.min(map_area.height),
    };
    match image {
        // an image for this snapshot and this area: drawn by the terminal's pixel protocol
        Some(img) => f.render_widget(ratatui_image::Image::new(&img.proto), r),
        None => f.render_widget(Heatmap { field, cmap, range }, r),
    }
    color_bar(f, s, cmap, range, bar_area, h);
}

fn lines(
    f: &mut Frame,
    s: &AppState,
    area: Rect,
    spec: &PlotSpec,
    series: &crate::plot::Series,
    file: &str,
    (others, over): (&[(&crate::plot::Series, String)], &str),
) {
    let t = &s.theme;
    let title = format!(
        "{} · {} · {} rows{over}",
        spec.name,
        crate::observe::sanitize(file),
        series.rows(),
    );
    let (x, _) = crate::plot::prepare::axes(spec, series);
    let Some(xs) = series.column(&x) else {
        let msg = format!(
            "no column `{x}` in {file} (columns: {})",
            series.columns.join(", ")
        );
        f.render_widget(
            Paragraph::new(Span::styled(msg, Style::default().fg(t.error)))
                .block(panel(s, title, true)),
            area,
        );
        return;
    };
    let width = chart_width(area.width);
    // made off the UI task for this load and width; else (a resize not yet answered) here
    let made;
    let lines = match s.plots.lines.as_ref() {
        Some(l) if l.req == s.plots.req && l.width == width && l.window == s.plots.window => l,
        _ => {
            made =
                crate::plot::prepare::series_lines(spec, xs, series, others, s.plots.window, width);
            &made
        }
    };
    let (x0, x1) = lines.x;
    let data = &lines.data;
    let missing = &lines.missing;
    // several columns on very different scales: each column scaled to its own range so all are
    // visible; the lines of one column (this run's, other runs', a sweep's elements) share it
    let columns = lines.column.iter().copied().max().map_or(0, |m| m + 1);
    let of_column: Vec<(f64, f64)> = (0..columns)
        .map(|k| {
            let ys: Vec<f64> = data
                .iter()
                .zip(&lines.column)
                .filter(|(_, c)| **c == k)
                .flat_map(|((_, d), _)| d.iter().map(|p| p.1))
                .collect();
            crate::plot::finite_range(&ys).unwrap_or((0.0, 1.0))
        })
        .collect();
    let ranges: Vec<(f64, f64)> = lines
        .column
        .iter()
        .map(|&k| of_column.get(k).copied().unwrap_or((0.0, 1.0)))
        .collect();
    let normalise = columns > 1;
    let shown: Vec<(String, Vec<(f64, f64)>)> = if normalise {
        data.iter()
            .zip(&ranges)
            .map(|((n, d), (lo, hi))| {
                let sp = if hi > lo { hi - lo } else { 1.0 };
                (
                    format!("{n} [{} … {}]", fmt_num(*lo), fmt_num(*hi)),
                    d.iter().map(|p| (p.0, (p.1 - lo) / sp)).collect(),
                )
            })
            .collect()
    } else {
        data.clone()
    };
    let (y0, y1) = if normalise {
        (0.0, 1.0)
    } else {
        ranges.first().copied().unwrap_or((0.0, 1.0))
    };
    let pad = ((y1 - y0) * 0.05).max(1e-12);
    let sets: Vec<Dataset> = shown
        .iter()
        .enumerate()
        .map(|(i, (n, d))| {
            Dataset::default()
                .name(n.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(t.series[i % 4]))
                .data(d)
        })
        .collect();
    let ylab = |v: f64| {
        if spec.log_y && !normalise {
            format!("1e{v:.1}")
        } else {
            fmt_num(v)
        }
    };
    let mut foot = vec![Span::styled(format!(" x: {x} "), t.muted())];
    if normalise {
        foot.push(Span::styled(
            "· each series scaled to its own range ",
            t.muted(),
        ));
    }
    if !missing.is_empty() {
        foot.push(Span::styled(
            format!("· missing columns: {} ", missing.join(", ")),
            Style::default().fg(t.warn),
        ));
    }
    let chart = Chart::new(sets)
        .block(panel(s, title, true).title_bottom(Line::from(foot)))
        .x_axis(
            Axis::default()
                .style(t.muted())
                .bounds([x0, x1.max(x0 + 1e-12)])
                .labels(vec![
                    Line::from(fmt_num(x0)),
                    Line::from(fmt_num((x0 + x1) / 2.0)),
                    Line::from(fmt_num(x1)),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(t.muted())
                .bounds([y0 - pad, y1 + pad])
                .labels(vec![
                    Line::from(ylab(y0)),
                    Line::from(ylab((y0 + y1) / 2.0)),
                    Line::from(ylab(y1)),
                ]),
        );
    f.render_widget(chart, area);
}

pub use crate::app::layout::chart_width;

/// `c` on a heatmap: this run's field and the other run's side by side, one colour scale.
#[allow(clippy::too_many_arguments)]
fn side_by_side(
    f: &mut Frame,
    s: &AppState,
    area: Rect,
    spec: &PlotSpec,
    (fa, sa): (&crate::plot::Field, &crate::plot::FieldStats),
    (fb, sb): (&crate::plot::Field, &crate::plot::FieldStats),
    file: &str,
    other: &str,
) {
    let t = &s.theme;
    let pl = &s.plots;
    let range = crate::app::plots::shared_range(s, sa, sb);
    let title = format!(
        "{} · {} · this run | run {}",
        spec.name,
        crate::observe::sanitize(file),
        crate::observe::sanitize(other)
    );
    let nan = sa.nonfinite + sb.nonfinite;
    let mut foot = vec![
        Span::styled(
            format!(" snapshot {}/{} ", pl.snapshot + 1, pl.files.len()),
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        ),
        Span::styled("one colour scale · d difference · c older run ", t.muted()),
    ];
    foot.extend(nan_note(s, nan));
    let block = panel(s, title, true).title_bottom(Line::from(foot));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [maps, bar_area] =
        Layout::horizontal([Constraint::Min(2), Constraint::Length(12)]).areas(inner);
    // each half as the backend sized its image and its averaging (app::plots::side_cells)
    let (half, _) = crate::plot::prepare::side_cells((maps.width, maps.height));
    let [left, right] =
        Layout::horizontal([Constraint::Length(half), Constraint::Length(half)]).areas(maps);
    // images of both fields, made for this area: drawn by the terminal's pixel protocol
    let image = pl
        .image
        .as_ref()
        .filter(|i| i.req == pl.req && i.cells == (maps.width, maps.height))
        .and_then(|i| Some((&i.proto, i.other.as_ref()?)));
    let mut h = 0;
    for (field, stats, label, a, proto) in [
        (fa, sa, "this run".to_string(), left, image.map(|i| i.0)),
        (
            fb,
            sb,
            format!("run {}", crate::fmt::short_id(other)),
            right,
            image.map(|i| i.1),
        ),
    ] {
        let [head, map] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(a);
        f.render_widget(
            Paragraph::new(Span::styled(
                format!(" {label} · {}x{}", stats.cols, stats.rows),
                t.muted(),
            )),
            head,
        );
        let (w, hh) = match proto {
            Some(p) => (p.size().width.min(map.width), p.size().height),
            None => Heatmap::fit(field, map),
        };
        h = h.max(hh + 1);
        let r = Rect {
            x: map.x + map.width.saturating_sub(w) / 2,
            width: w,
            height: hh.min(map.height),
            ..map
        };
        match proto {
            Some(p) => f.render_widget(ratatui_image::Image::new(p), r),
            None => f.render_widget(
                Heatmap {
                    field,
                    cmap: &spec.cmap,
                    range,
                },
                r,
            ),
        }
    }
    color_bar(f, s, &spec.cmap, range, bar_area, h);
}

/// The footer's count of NaN/inf cells, when there are any.
fn nan_note(s: &AppState, nan: usize) -> Option<Span<'static>> {
    (nan > 0).then(|| {
        Span::styled(
            format!("· {nan} NaN/inf cells (cyan) "),
            Style::default().fg(s.theme.warn),
        )
    })
}

/// The colour bar beside a heatmap, `h` rows tall, in `area` (one column of space before it).
fn color_bar(f: &mut Frame, s: &AppState, cmap: &str, range: (f64, f64), area: Rect, h: u16) {
    f.render_widget(
        ColorBar {
            cmap,
            range,
            label_style: Style::default().fg(s.theme.fg),
        },
        Rect {
            x: area.x + 1,
            width: area.width.saturating_sub(1),
            height: h.min(area.height),
            ..area
        },
    );
}
