//! The Clusters view: SageMaker HyperPod clusters on top (status, orchestrator, groups, nodes), the
//! selected cluster's instance groups and nodes below, each node with its SSM target. With `r`, the
//! current target's Ray cluster instead: resource use as bars, nodes, and jobs.

use super::{panel, spinner};
use crate::app::state::AppState;
use crate::observe::sanitize;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

fn status_colour(s: &AppState, status: &str) -> ratatui::style::Color {
    let t = &s.theme;
    match status {
        "InService" | "Running" => t.ok,
        "Creating" | "Updating" | "Pending" | "RollingBack" | "SystemUpdating" => t.warn,
        "Failed" | "ShuttingDown" | "DeepHealthCheckInProgress" | "Deleting" => t.error,
        _ => t.fg,
    }
}

pub fn draw(f: &mut Frame, s: &AppState, area: Rect) {
    if s.clusters.ray_mode {
        return draw_ray(f, s, area);
    }
    let t = &s.theme;
    let c = &s.clusters;
    let mut title = format!("HyperPod clusters · {}", c.clusters.len());
    if c.api_calls > 0 {
        title.push_str(&format!(" · {} AWS calls", c.api_calls));
    }
    if c.loading {
        title.push_str(&format!(" {}", spinner(s)));
    }
    let top_h = (c.clusters.len().clamp(1, 8) + 3) as u16;
    let [top, groups_area, nodes_area] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Length(
            c.current()
                .map(|x| x.groups.len().clamp(1, 6) as u16 + 3)
                .unwrap_or(0),
        ),
        Constraint::Min(3),
    ])
    .areas(area);
    let block = panel(s, title, !c.focus_nodes);
    if let Some(e) = &c.error {
        f.render_widget(
            Paragraph::new(Span::styled(e.clone(), Style::default().fg(t.error)))
                .wrap(Wrap { trim: false })
                .block(block),
            top,
        );
    } else if c.clusters.is_empty() {
        let msg = if c.loading {
            "asking SageMaker (ListClusters)…"
        } else {
            "No HyperPod clusters for this profile and region."
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.muted())).block(block),
            top,
        );
    } else {
        let h = block.inner(top).height.saturating_sub(1) as usize;
        let start = c.selected.saturating_sub(h.saturating_sub(1));
        let rows = c
            .clusters
            .iter()
            .enumerate()
            .skip(start)
            .take(h.max(1))
            .map(|(i, k)| {
                let up = k.nodes.iter().filter(|n| n.status == "Running").count();
                let row = Row::new(vec![
                    Cell::from(sanitize(&k.name).into_owned()),
                    Cell::from(Span::styled(
                        sanitize(&k.status).into_owned(),
                        Style::default().fg(status_colour(s, &k.status)),
                    )),
                    Cell::from(k.orchestrator.clone().unwrap_or_else(|| "-".into())),
                    Cell::from(k.groups.len().to_string()),
                    Cell::from(format!("{up}/{}", k.nodes.len())),
                    Cell::from(
                        k.created
                            .as_deref()
                            .map(|c| c.get(..16).unwrap_or(c).replace('T', " "))
                            .unwrap_or_default(),
                    ),
                    Cell::from(sanitize(&k.id).into_owned()),
                ]);
                if i == c.selected {
                    row.style(t.selected())
                } else {
                    row
                }
            });
        let widths = [
            Constraint::Min(14),
            Constraint::Length(12),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Length(14),
        ];
        f.render_widget(
            Table::new(rows, widths)
                .header(
                    Row::new([
                        "name", "status", "orch", "groups", "running", "created", "id",
                    ])
                    .style(t.muted()),
                )
                .block(block),
            top,
        );
    }
    let Some(cur) = c.current() else {
        return;
    };
    // instance groups of the selected cluster
    let g_rows = cur.groups.iter().map(|g| {
        Row::new(vec![
            Cell::from(sanitize(&g.name).into_owned()),
            Cell::from(sanitize(&g.instance_type).into_owned()),
            Cell::from(format!("{}/{}", g.current, g.target)),
            Cell::from(
                g.threads_per_core
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            ),
            Cell::from(
                g.status
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_default()
                    .into_owned(),
            ),
        ])
    });
    let mut g_title = format!("{} · instance groups", sanitize(&cur.name));
    if let Some(e) = cur.error.as_ref().or(cur.failure.as_ref()) {
        g_title.push_str(&format!(" · ! {}", sanitize(e)));
    }
    f.render_widget(
        Table::new(
            g_rows,
            [
                Constraint::Min(14),
                Constraint::Length(18),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(12),
            ],
        )
        .header(Row::new(["group", "instance type", "nodes", "threads", "status"]).style(t.muted()))
        .block(panel(s, g_title, false)),
        groups_area,
    );
    // nodes
    let vis = c.visible_nodes();
    let mut n_title = format!("nodes · {} of {}", vis.len(), cur.nodes.len());
    if !c.filter.is_empty() {
        n_title.push_str(&format!(" · filter: {}", sanitize(&c.filter)));
    }
    n_title.push_str(&format!(
        " · u sets target {}",
        c.for_target
            .as_deref()
            .map(sanitize)
            .unwrap_or("(none: t)".into())
    ));
    let block = panel(s, n_title, c.focus_nodes);
    if vis.is_empty() {
        f.render_widget(
            Paragraph::new(Line::from(Span::styled("No nodes.", t.muted()))).block(block),
            nodes_area,
        );
        return;
    }
    let h = block.inner(nodes_area).height.saturating_sub(1) as usize;
    let start = c.node.saturating_sub(h.saturating_sub(1));
    // narrow terminals drop the instance type (the group row above names it)
    let wide = nodes_area.width >= 110;
    let rows = vis
        .iter()
        .enumerate()
        .skip(start)
        .take(h.max(1))
        .map(|(i, n)| {
            let mut status = sanitize(&n.status).into_owned();
            if let Some(m) = &n.message {
                status.push_str(&format!(" ({})", sanitize(m)));
            }
            let mut cells = vec![
                Cell::from(sanitize(&n.instance_id).into_owned()),
                Cell::from(sanitize(&n.group).into_owned()),
            ];
            if wide {
                cells.push(Cell::from(sanitize(&n.instance_type).into_owned()));
            }
            cells.push(Cell::from(Span::styled(
                status,
                Style::default().fg(status_colour(s, &n.status)),
            )));
            cells.push(Cell::from(sanitize(&n.ssm_target).into_owned()));
            let row = Row::new(cells);
            if c.focus_nodes && i == c.node {
                row.style(t.selected())
            } else {
                row
            }
        });
    let (widths, header): (Vec<Constraint>, Vec<&str>) = if wide {
        (
            vec![
                Constraint::Length(20),
                Constraint::Length(14),
                Constraint::Length(16),
                Constraint::Length(12),
                Constraint::Min(20),
            ],
            vec!["instance", "group", "type", "status", "SSM target"],
        )
    } else {
        (
            vec![
                Constraint::Length(20),
                Constraint::Length(11),
                Constraint::Length(8),
                Constraint::Min(20),
            ],
            vec!["instance", "group", "status", "SSM target"],
        )
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(t.muted()))
            .block(block),
        nodes_area,
    );
}

fn ray_status_colour(s: &AppState, status: &str) -> ratatui::style::Color {
    let t = &s.theme;
    match status {
        "SUCCEEDED" | "ALIVE" => t.ok,
        "RUNNING" | "PENDING" => t.warn,
        "FAILED" | "DEAD" => t.error,
        _ => t.fg,
    }
}

/// A resource amount as people read it: bytes in GiB for memory, else the number.
fn amount(name: &str, x: f64) -> String {
    if name.contains("memory") {
        format!("{:.1}G", x / (1u64 << 30) as f64)
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `████░░░░` of `width` cells for `used` of `total`.
fn bar(used: f64, total: f64, width: usize) -> (String, String) {
    let frac = if total > 0.0 {
        (used / total).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (frac * width as f64).round() as usize;
    ("█".repeat(full), "░".repeat(width - full))
}

fn draw_ray(f: &mut Frame, s: &AppState, area: Rect) {
    let t = &s.theme;
    let c = &s.clusters;
    let dashboard = s
        .project
        .as_ref()
        .ok()
        .and_then(|p| p.targets.get(&s.target))
        .and_then(|x| x.ray.as_ref())
        .map(|r| r.dashboard.clone())
        .unwrap_or_default();
    let mut title = format!("Ray · target {}", sanitize(&s.target));
    if !dashboard.is_empty() {
        title.push_str(&format!(" · {}", sanitize(&dashboard)));
    }
    if let Some(r) = &c.ray {
        title.push_str(&format!(
            " · {} nodes · {} running jobs",
            r.nodes.len(),
            r.running_jobs()
        ));
    }
    if c.ray_requests > 0 {
        title.push_str(&format!(" · {} requests", c.ray_requests));
    }
    if c.ray_loading {
        title.push_str(&format!(" {}", spinner(s)));
    }
    let Some(r) = &c.ray else {
        let msg = c.ray_error.clone().unwrap_or_else(|| {
            "asking the Ray dashboard (nodes, cluster status, jobs)…".to_string()
        });
        let style = if c.ray_error.is_some() {
            Style::default().fg(t.error)
        } else {
            t.muted()
        };
        f.render_widget(
            Paragraph::new(Span::styled(msg, style))
                .wrap(Wrap { trim: false })
                .block(panel(s, title, true)),
            area,
        );
        return;
    };
    // resource use: the autoscaler's report, else the nodes' totals with nothing known used
    let mut usage: Vec<(String, f64, f64)> = r
        .usage
        .iter()
        .map(|(k, (u, tot))| (k.clone(), *u, *tot))
        .collect();
    if usage.is_empty() {
        let mut tot: std::collections::BTreeMap<String, f64> = Default::default();
        for n in r.nodes.iter().filter(|n| n.state == "ALIVE") {
            for (k, v) in &n.resources {
                *tot.entry(k.clone()).or_default() += v;
            }
        }
        usage = tot.into_iter().map(|(k, v)| (k, f64::NAN, v)).collect();
    }
    // the common resources first, then custom ones
    let rank = |k: &str| match k {
        "CPU" => 0,
        "GPU" => 1,
        "memory" => 2,
        "object_store_memory" => 3,
        _ => 4,
    };
    usage.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    usage.truncate(6);
    let res_h = usage.len().max(1) as u16 + 2;
    let nodes_h = (r.nodes.len().clamp(1, 6) + 3) as u16;
    let [res_area, nodes_area, jobs_area] = Layout::vertical([
        Constraint::Length(res_h),
        Constraint::Length(nodes_h),
        Constraint::Min(4),
    ])
    .areas(area);
    let width = (res_area.width as usize).saturating_sub(44).clamp(4, 60);
    let lines: Vec<Line> = usage
        .iter()
        .map(|(k, u, tot)| {
            let known = !u.is_nan();
            let (a, b) = bar(if known { *u } else { 0.0 }, *tot, width);
            let frac = if known && *tot > 0.0 { u / tot } else { 0.0 };
            let colour = if frac > 0.9 {
                t.error
            } else if frac > 0.6 {
                t.warn
            } else {
                t.ok
            };
            Line::from(vec![
                Span::raw(format!(
                    "{:<20} ",
                    sanitize(k).chars().take(20).collect::<String>()
                )),
                Span::styled(a, Style::default().fg(colour)),
                Span::styled(b, t.muted()),
                Span::raw(if known {
                    format!(" {} / {}", amount(k, *u), amount(k, *tot))
                } else {
                    format!(" ? / {}", amount(k, *tot))
                }),
            ])
        })
        .collect();
    let mut res_title = title;
    if let Some(e) = &c.ray_error {
        res_title.push_str(&format!(" · ! {}", sanitize(e)));
    }
    f.render_widget(
        Paragraph::new(lines).block(panel(s, res_title, false)),
        res_area,
    );
    // nodes
    let rows = r.nodes.iter().map(|n| {
        let get = |k: &str| {
            n.resources
                .get(k)
                .map(|v| amount(k, *v))
                .unwrap_or_default()
        };
        Row::new(vec![
            Cell::from(sanitize(&n.ip).into_owned()),
            Cell::from(if n.head { "head" } else { "worker" }),
            Cell::from(Span::styled(
                sanitize(&n.state).into_owned(),
                Style::default().fg(ray_status_colour(s, &n.state)),
            )),
            Cell::from(get("CPU")),
            Cell::from(get("GPU")),
            Cell::from(get("memory")),
            Cell::from(sanitize(&n.id).chars().take(16).collect::<String>()),
        ])
    });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(16),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(8),
                Constraint::Min(8),
            ],
        )
        .header(
            Row::new([
                "node ip", "role", "state", "CPU", "GPU", "memory", "node id",
            ])
            .style(t.muted()),
        )
        .block(panel(s, format!("nodes · {}", r.nodes.len()), false)),
        nodes_area,
    );
    // jobs
    let block = panel(s, format!("jobs · {} · newest first", r.jobs.len()), true);
    if r.jobs.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("No jobs on this cluster yet.", t.muted())).block(block),
            jobs_area,
        );
        return;
    }
    let h = block.inner(jobs_area).height.saturating_sub(1) as usize;
    let start = c.ray_job.saturating_sub(h.saturating_sub(1));
    let now_ms = s.now.timestamp_millis().max(0) as u64;
    // narrow terminals drop the run column (a tandem job's submission id names its run)
    let wide = jobs_area.width >= 120;
    let rows = r
        .jobs
        .iter()
        .enumerate()
        .skip(start)
        .take(h.max(1))
        .map(|(i, j)| {
            let run = j
                .metadata
                .as_ref()
                .and_then(|m| m.get("tandem_run"))
                .map(|x| sanitize(x).into_owned())
                .unwrap_or_default();
            let took = match (
                j.start_time.filter(|x| *x > 0),
                j.end_time.filter(|x| *x > 0),
            ) {
                (Some(a), Some(b)) => {
                    crate::fmt::duration(chrono::Duration::milliseconds(b.saturating_sub(a) as i64))
                }
                (Some(a), None) => crate::fmt::duration(chrono::Duration::milliseconds(
                    now_ms.saturating_sub(a) as i64,
                )),
                _ => String::new(),
            };
            let mut cells = vec![
                Cell::from(sanitize(j.submission_id.as_deref().unwrap_or("-")).into_owned()),
                Cell::from(Span::styled(
                    sanitize(&j.status).into_owned(),
                    Style::default().fg(ray_status_colour(s, &j.status)),
                )),
            ];
            if wide {
                cells.push(Cell::from(run));
            }
            cells.extend([
                Cell::from(took),
                Cell::from(sanitize(&j.entrypoint).into_owned()),
            ]);
            let row = Row::new(cells);
            if i == c.ray_job {
                row.style(t.selected())
            } else {
                row
            }
        });
    let (widths, header) = if wide {
        (
            vec![
                Constraint::Length(44),
                Constraint::Length(10),
                Constraint::Length(21),
                Constraint::Length(8),
                Constraint::Min(10),
            ],
            vec![
                "submission id",
                "status",
                "tandem run",
                "took",
                "entrypoint",
            ],
        )
    } else {
        (
            vec![
                Constraint::Length(40),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Min(10),
            ],
            vec!["submission id", "status", "took", "entrypoint"],
        )
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(t.muted()))
            .block(block),
        jobs_area,
    );
}
