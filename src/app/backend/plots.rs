//! The Plots view's reads, off the UI task: a plot's files in a run, one snapshot (or two runs'
//! outputs compared) read straight to what the screen shows, its image made for a pixel protocol,
//! a series decimated to the chart, and the plot on screen exported to a PNG.

use super::{Backend, Command, Msg};
use crate::plot::load::{ExportAs, PlotData, Reader, Tails};
use crate::plot::prepare::{fit_to_cells, lines_of, pick_range, shown_cmap, side_cells};

#[derive(Default)]
pub(super) struct Plots {
    /// The terminal's graphics protocol, when plots are shown as images.
    pub picker: Option<crate::plot::pixels::Picker>,
    /// Series CSVs read so far (a growing one is read from where it stopped).
    tails: Tails,
}

impl Backend {
    /// What reads the project's plots (None without a project).
    fn plot_reader(&self) -> Option<Reader> {
        Some(Reader {
            ws: self.ws.clone(),
            project: self.project.get()?,
            store: self.store.clone(),
            tails: self.plots.tails.clone(),
            pick: None,
            element: None,
        })
    }

    pub(super) fn plot_files(
        &mut self,
        req: u64,
        run_id: String,
        plot: usize,
        element: Option<u32>,
    ) {
        let (Some(reader), tx) = (self.plot_reader(), self.tx.clone()) else {
            return;
        };
        let reader = reader.at_element(element);
        tokio::spawn(async move {
            let files = match reader.files(&run_id, plot).await {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.send(Msg::Error(format!("plot files: {e}"))).await;
                    vec![]
                }
            };
            let _ = tx.send(Msg::PlotFiles { req, files }).await;
        });
    }

    /// Command::DiffRuns: two runs compared, off the UI task (the journal, and the last values
    /// of their series).
    pub(super) fn diff_runs(&mut self, a: String, b: String) {
        let tx = self.tx.clone();
        let reader = self.plot_reader();
        let j = self.ws.journal.clone();
        tokio::spawn(async move {
            let r = match reader {
                Some(r) => r.diff_runs(&a, &b).await,
                None => {
                    tokio::task::spawn_blocking(move || crate::pipeline::diff::diff(&j, &a, &b))
                        .await
                        .unwrap_or_else(|e| {
                            Err(crate::pipeline::diff::DiffError::Journal(
                                std::io::Error::other(e),
                            ))
                        })
                }
            };
            let _ = tx.send(Msg::RunsDiffed(r.map(Box::new))).await;
        });
    }

    /// Command::LoadPlot: one snapshot (or two runs' outputs) read to what the screen shows, its
    /// image made when a pixel protocol shows it, a series decimated to the chart.
    pub(super) fn load_plot(&mut self, c: Command) {
        let Command::LoadPlot {
            req,
            run_id,
            plot,
            file,
            cells,
            hold,
            compare,
            more,
            diff,
            window,
            chart,
            pick,
            element,
        } = c
        else {
            return;
        };
        let (Some(reader), Some(p), tx) = (self.plot_reader(), self.project.get(), self.tx.clone())
        else {
            return;
        };
        let reader = reader.picking(plot, pick).at_element(element);
        let picker = self.plots.picker.clone();
        tokio::spawn(async move {
            let (cmap, fixed) = p
                .plots
                .get(plot)
                .map(|x| {
                    let d = diff && compare.is_some();
                    (
                        shown_cmap(&x.cmap, d).to_string(),
                        // a fixed range is of the values, not of their difference
                        x.range.filter(|_| !d),
                    )
                })
                .unwrap_or_default();
            // a heatmap is read straight to the part in view at the size it is shown
            // (its pixels on a graphics protocol, else two rows of blocks a cell)
            let fit = cells.map(|c| crate::plot::Fit {
                window: window.unwrap_or(crate::plot::Window::ALL),
                within: match &picker {
                    Some(pk) => {
                        let fs = pk.font_size();
                        (
                            c.1 as usize * fs.height as usize,
                            c.0 as usize * fs.width as usize,
                        )
                    }
                    None => (c.1 as usize * 2, c.0 as usize),
                },
            });
            let mut result = reader
                .load_compared(&run_id, plot, &file, compare.as_deref(), &more, diff, fit)
                .await;
            let (result, image, lines) = tokio::task::spawn_blocking(move || {
                // a heatmap on a terminal with a pixel protocol: its image too, made here
                // off the UI task, from the same field (no copy)
                let image = match (&result, cells, &picker) {
                    (Ok(PlotData::Field { field, stats, .. }), Some(c), Some(pk)) => {
                        let range = pick_range(hold, fixed, stats);
                        Some(crate::plot::pixels::encode(pk, req, field, &cmap, range, c))
                    }
                    // two runs' fields: an image each, beside each other, one range
                    (Ok(PlotData::Compare { a, b, .. }), Some(c), Some(pk)) => {
                        match (a.as_ref(), b.as_ref()) {
                            (
                                PlotData::Field {
                                    field: fa,
                                    stats: sa,
                                    ..
                                },
                                PlotData::Field {
                                    field: fb,
                                    stats: sb,
                                    ..
                                },
                            ) => {
                                let range = pick_range(hold, fixed, &sa.joined(sb));
                                let half = side_cells(c);
                                Some(crate::plot::pixels::encode_pair(
                                    pk,
                                    req,
                                    (fa, fb),
                                    &cmap,
                                    range,
                                    (c, half),
                                ))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                };
                // the character heatmap gets the field block-averaged to its cells here,
                // so no frame averages a large field
                if let (Ok(data), Some(c), None) = (&mut result, cells, &image) {
                    fit_to_cells(data, c);
                }
                // a series: decimated to the chart here, so no frame does it
                let lines = match (&result, chart, p.plots.get(plot)) {
                    (Ok(data), Some(w), Some(spec)) => lines_of(spec, data, window, w, req),
                    _ => None,
                };
                (result, image, lines)
            })
            .await
            .unwrap_or_else(|e| (Err(e.to_string()), None, None));
            if let Some(lines) = lines {
                let lines = Box::new(lines);
                let _ = tx.send(Msg::PlotLines { req, lines }).await;
            }
            let _ = tx.send(Msg::PlotLoaded { req, result }).await;
            if let Some(result) = image {
                let _ = tx.send(Msg::PlotImage { req, result }).await;
            }
        });
    }

    pub(super) fn decimate_lines(
        &mut self,
        req: u64,
        plot: usize,
        data: PlotData,
        window: Option<crate::plot::Window>,
        chart: usize,
    ) {
        let (Some(p), tx) = (self.project.get(), self.tx.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let lines = tokio::task::spawn_blocking(move || {
                lines_of(p.plots.get(plot)?, &data, window, chart, req)
            })
            .await
            .ok()
            .flatten();
            if let Some(lines) = lines {
                let lines = Box::new(lines);
                let _ = tx.send(Msg::PlotLines { req, lines }).await;
            }
        });
    }

    /// Command::ExportPlot: the plot on screen drawn to a PNG, off the UI task.
    pub(super) fn export_plot(&mut self, c: Command) {
        let Command::ExportPlot {
            run_id,
            plot,
            file,
            out,
            compare,
            more,
            diff,
            hold,
            pick,
            element,
        } = c
        else {
            return;
        };
        let (Some(reader), Some(p), tx) = (self.plot_reader(), self.project.get(), self.tx.clone())
        else {
            return;
        };
        let reader = reader.picking(plot, pick).at_element(element);
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let data = reader
                .load_compared(&run_id, plot, &file, compare.as_deref(), &more, diff, None)
                .await;
            let r = tokio::task::spawn_blocking(move || {
                let spec = p.plots.get(plot).ok_or("no such plot")?;
                let vs = match (&compare, diff) {
                    (Some(o), true) => format!(" − {o}"),
                    (Some(o), false) => std::iter::once(o)
                        .chain(&more)
                        .map(|r| format!(" vs {r}"))
                        .collect(),
                    (None, _) => String::new(),
                };
                let title = format!("{} · {run_id}{vs} · {file}", spec.name);
                let how = ExportAs {
                    label: &run_id,
                    diff: diff && compare.is_some(),
                    hold,
                    title: &title,
                    size: (1200, 800),
                };
                crate::plot::load::export(spec, &data?, &how, std::path::Path::new(&out))
                    .map(|_| format!("exported {out} ({} ms)", t0.elapsed().as_millis()))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let _ = tx
                .send(match r {
                    Ok(m) => Msg::Info(m),
                    Err(e) => Msg::Error(e),
                })
                .await;
        });
    }
}
