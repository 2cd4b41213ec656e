//! Export plots to PNG or SVG with plotters.

use super::colormap::{color, NAN_COLOR};
use super::{finite_range, Field, Series};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Register a system sans-serif font once for plotters' text; false when none was found (plots then
/// come without text rather than failing).
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
        ];
        for c in candidates {
            if let Ok(bytes) = std::fs::read(c) {
                let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }
}

type DynErr = Box<dyn std::error::Error + Send + Sync>;

fn err<E: std::fmt::Display>(e: E) -> DynErr {
    e.to_string().into()
}

/// Fields side by side on one colour scale (`range`, else all their finite values together),
/// each captioned with its label when there are several, and one colour bar.
fn draw_heatmaps<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    fields: &[(&str, &Field)],
    cmap: &str,
    range: Option<(f64, f64)>,
    title: &str,
    text: bool,
    raster: bool,
) -> Result<(), DynErr> {
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi) = range.unwrap_or_else(|| {
        fields
            .iter()
            .filter_map(|(_, f)| finite_range(&f.data))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            .unwrap_or((0.0, 1.0))
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let root = if text && fields.len() > 1 {
        root.titled(title, ("sans-serif", 20)).map_err(err)?
    } else {
        root
    };
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 as i32 - 110);
    let panels = main.split_evenly((1, fields.len().max(1)));
    for (panel, (label, f)) in panels.iter().zip(fields) {
        let caption = if fields.len() > 1 { label } else { title };
        draw_field(panel, f, cmap, (lo, span), caption, text, raster)?;
    }
    colour_bar(&bar, cmap, (lo, span), text)?;
    root.present().map_err(err)?;
    Ok(())
}

fn draw_field<DB: DrawingBackend>(
    main: &DrawingArea<DB, plotters::coord::Shift>,
    f: &Field,
    cmap: &str,
    (lo, span): (f64, f64),
    title: &str,
    text: bool,
    raster: bool,
) -> Result<(), DynErr> {
    let mut b = ChartBuilder::on(main);
    b.margin(10);
    if text {
        b.caption(title, ("sans-serif", 20))
            .x_label_area_size(30)
            .y_label_area_size(40);
    }
    let mut chart = b.build_cartesian_2d(0..f.cols, 0..f.rows).map_err(err)?;
    if text {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x cell")
            .y_desc("y cell")
            .draw()
            .map_err(err)?;
    }
    if raster {
        // a bitmap: the field coloured at the plot area's own pixels (block-averaged when it has
        // more cells than pixels) and written pixel by pixel; a rectangle per cell costs ~100 ms
        // for a 1024x1024 field
        let area = chart.plotting_area().strip_coord_spec();
        let (pw, ph) = area.dim_in_pixel();
        let img = super::pixels::field_image(f, cmap, (lo, lo + span), (pw, ph));
        for (x, y, p) in img.enumerate_pixels() {
            area.draw_pixel((x as i32, y as i32), &RGBColor(p[0], p[1], p[2]))
                .map_err(err)?;
        }
    } else {
        // vectors: a rectangle per cell, of the field averaged down to at most 200x200 cells
        let small;
        let f = if f.rows > 200 || f.cols > 200 {
            small = super::downsample(f, 200, 200);
            &small
        } else {
            f
        };
        let mut chart = ChartBuilder::on(&chart.plotting_area().strip_coord_spec())
            .build_cartesian_2d(0..f.cols, 0..f.rows)
            .map_err(err)?;
        // y up: row 0 at the bottom
        chart
            .draw_series(
                (0..f.rows)
                    .flat_map(|r| (0..f.cols).map(move |c| (r, c)))
                    .map(|(r, c)| {
                        let v = f.data[r * f.cols + c];
                        let (cr, cg, cb) = if v.is_finite() {
                            color(cmap, (v - lo) / span)
                        } else {
                            NAN_COLOR
                        };
                        Rectangle::new([(c, r), (c + 1, r + 1)], RGBColor(cr, cg, cb).filled())
                    }),
            )
            .map_err(err)?;
    }
    Ok(())
}

fn colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, plotters::coord::Shift>,
    cmap: &str,
    (lo, span): (f64, f64),
    text: bool,
) -> Result<(), DynErr> {
    let mut bb = ChartBuilder::on(bar);
    bb.margin(10).margin_top(if text { 40 } else { 10 });
    if text {
        bb.y_label_area_size(60);
    }
    let mut cb = bb
        .build_cartesian_2d(0.0..1.0, lo..lo + span)
        .map_err(err)?;
    if text {
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    let steps = 128;
    cb.draw_series((0..steps).map(|k| {
        let (v0, v1) = (
            lo + span * k as f64 / steps as f64,
            lo + span * (k + 1) as f64 / steps as f64,
        );
        let (cr, cg, cb) = color(cmap, (k as f64 + 0.5) / steps as f64);
        Rectangle::new([(0.0, v0), (1.0, v1)], RGBColor(cr, cg, cb).filled())
    }))
    .map_err(err)?;
    Ok(())
}

pub const PALETTE: [(u8, u8, u8); 4] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
];

/// Columns `ys` against `x` of every run's series (labelled with the run when there are several).
fn draw_lines<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    runs: &[(&str, &Series)],
    x: &str,
    ys: &[String],
    log_y: bool,
    title: &str,
    text: bool,
) -> Result<(), DynErr> {
    root.fill(&WHITE).map_err(err)?;
    let mut series = Vec::new();
    for (label, s) in runs {
        let column = |name: &str| {
            s.column(name).ok_or_else(|| {
                err(format!(
                    "no column `{name}` (columns: {})",
                    s.columns.join(", ")
                ))
            })
        };
        let xs = column(x)?;
        for y in ys {
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .zip(column(y)?)
                .filter(|(a, b)| a.is_finite() && b.is_finite() && (!log_y || **b > 0.0))
                .map(|(a, b)| (*a, if log_y { b.log10() } else { *b }))
                .collect();
            let name = if runs.len() > 1 {
                format!("{y} · {label}")
            } else {
                y.clone()
            };
            series.push((name, super::decimate_minmax(&pts, 2000)));
        }
    }
    let all_x: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .collect();
    let all_y: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .collect();
    let (x0, x1) = finite_range(&all_x).ok_or_else(|| err("no finite points to draw"))?;
    let (y0, y1) = finite_range(&all_y).ok_or_else(|| err("no finite points to draw"))?;
    let pad = ((y1 - y0) * 0.05).max(1e-12);
    let mut b = ChartBuilder::on(&root);
    b.margin(15);
    if text {
        b.caption(title, ("sans-serif", 20))
            .x_label_area_size(35)
            .y_label_area_size(70);
    }
    let mut chart = b
        .build_cartesian_2d(x0..x1.max(x0 + 1e-12), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    if text {
        let ydesc = if log_y {
            format!("log10 {}", ys.join(", "))
        } else {
            ys.join(", ")
        };
        chart
            .configure_mesh()
            .x_desc(x)
            .y_desc(ydesc)
            .draw()
            .map_err(err)?;
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let (r, g, bl) = PALETTE[i % PALETTE.len()];
        let c = RGBColor(r, g, bl);
        let drawn = chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(err)?;
        if text {
            drawn.label(name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
            });
        }
    }
    if text && series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// What to draw.
pub enum Plot<'a> {
    /// One field, or several side by side (compared runs, labelled) on one colour scale.
    Heatmap {
        fields: &'a [(&'a str, &'a Field)],
        cmap: &'a str,
        /// A fixed colour range (default: the fields' own, all together).
        range: Option<(f64, f64)>,
    },
    /// Columns of one run's series, or of several runs' overlaid (labelled).
    Lines {
        series: &'a [(&'a str, &'a Series)],
        x: &'a str,
        y: &'a [String],
        log_y: bool,
    },
}

/// Draw `plot` to `out` (PNG or SVG by extension) at `size` pixels.
pub fn export(plot: &Plot<'_>, title: &str, out: &Path, size: (u32, u32)) -> Result<(), DynErr> {
    let fmt = Format::from_path(out).ok_or_else(|| {
        err(format!(
            "{}: expected a .png or .svg file name",
            out.display()
        ))
    })?;
    let text = font_ready();
    match fmt {
        Format::Png => {
            // drawn in memory, then PNG-encoded with fast compression: plotters' own save uses
            // the default level, which took about half of a 1200x800 export
            let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                draw(plot, root, title, text, true)?;
            }
            use image::ImageEncoder;
            let file =
                std::fs::File::create(out).map_err(|e| err(format!("{}: {e}", out.display())))?;
            image::codecs::png::PngEncoder::new_with_quality(
                std::io::BufWriter::new(file),
                image::codecs::png::CompressionType::Fast,
                image::codecs::png::FilterType::Adaptive,
            )
            .write_image(&buf, size.0, size.1, image::ExtendedColorType::Rgb8)
            .map_err(|e| err(format!("{}: {e}", out.display())))
        }
        Format::Svg => {
            let root = SVGBackend::new(out, size).into_drawing_area();
            draw(plot, root, title, text, false)
        }
    }
}

fn draw<DB: DrawingBackend>(
    plot: &Plot<'_>,
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    text: bool,
    raster: bool,
) -> Result<(), DynErr> {
    match plot {
        Plot::Heatmap {
            fields,
            cmap,
            range,
        } => draw_heatmaps(root, fields, cmap, *range, title, text, raster),
        Plot::Lines {
            series,
            x,
            y,
            log_y,
        } => draw_lines(root, series, x, y, *log_y, title, text),
    }
}
