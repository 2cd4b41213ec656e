//! The Clusters view: SageMaker HyperPod clusters on top (status, orchestrator, groups, nodes), the
//! selected cluster's instance groups and nodes below, each node with its SSM target.

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
