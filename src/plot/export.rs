//! Export plots to PNG or SVG with plotters.

use super::colormap::{color, NAN_COLOR};
use super::{finite_range, Field, Series};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    let ticks = if text {
        bar_ticks((lo, span))
    } else {
        Vec::new()
    };
    let column = bar_column_width(&root, &ticks);
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 as i32 - column);
    let panels = main.split_evenly((1, fields.len().max(1)));
    let mut rows = None;
    for (panel, (label, f)) in panels.iter().zip(fields) {
        let caption = if fields.len() > 1 { label } else { title };
        rows = Some(draw_field(
            panel,
            f,
            cmap,
            (lo, span),
            caption,
            text,
            raster,
        )?);
    }
    // the bar as tall as the fields' plotting area
    let (_, h) = bar.dim_in_pixel();
    let base = bar.get_base_pixel().1;
    let rows = rows.map_or(BAR_MARGIN..h as i32 - BAR_MARGIN, |r| {
        r.start - base..r.end - base
    });
    colour_bar(&bar, cmap, (lo, span), &ticks, rows, text)?;
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
) -> Result<std::ops::Range<i32>, DynErr> {
    let mut b = ChartBuilder::on(main);
    b.margin(10);
    if text {
        b.caption(title, ("sans-serif", 20))
            .x_label_area_size(30)
            .y_label_area_size(40);
    }
    let mut chart = b.build_cartesian_2d(0..f.cols, 0..f.rows).map_err(err)?;
    let rows = chart.plotting_area().get_pixel_range().1;
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
    Ok(rows)
}

/// The colour bar's font, its bar's width and the gaps around it, in pixels.
const BAR_FONT: (&str, u32) = ("sans-serif", 14);
const BAR_WIDTH: i32 = 20;
const BAR_MARGIN: i32 = 10;
const BAR_TICK: i32 = 5;

/// The colour bar's tick values and their labels: plotters' round key points, written with as many
/// decimals as the step between them needs (exponent form for very large or small magnitudes).
fn bar_ticks((lo, span): (f64, f64)) -> Vec<(f64, String)> {
    use plotters::coord::ranged1d::Ranged;
    let coord: plotters::coord::types::RangedCoordf64 = (lo..lo + span).into();
    let keys = coord.key_points(6);
    let step = keys
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let decimals = if step.is_finite() && step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        1
    };
    let big = keys.iter().any(|v| v.abs() >= 1e6);
    let small = step.is_finite() && step < 1e-4;
    keys.into_iter()
        .map(|v| {
            let text = if big || small {
                format!("{v:.2e}")
            } else {
                format!("{v:.decimals$}")
            };
            (v, text)
        })
        .collect()
}

/// The width of the colour bar's column: its bar, ticks and widest label, measured in the font,
/// so that no label is cut at the image's edge.
fn bar_column_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    ticks: &[(f64, String)],
) -> i32 {
    let font = TextStyle::from(BAR_FONT.into_font());
    let widest = ticks
        .iter()
        .filter_map(|(_, t)| area.estimate_text_size(t, &font).ok())
        .map(|(w, _)| w as i32)
        .max()
        .unwrap_or(0);
    let labels = if widest > 0 { BAR_TICK + 3 + widest } else { 0 };
    BAR_MARGIN + BAR_WIDTH + labels + BAR_MARGIN
}

/// The colour bar in pixel coordinates of its own column, over `rows`: the bar on the left, ticks
/// and labels to its right (when there is text), all inside the column.
fn colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, plotters::coord::Shift>,
    cmap: &str,
    (lo, span): (f64, f64),
    ticks: &[(f64, String)],
    rows: std::ops::Range<i32>,
    text: bool,
) -> Result<(), DynErr> {
    let (top, bottom) = (rows.start, rows.end - 1);
    if bottom <= top {
        return Ok(());
    }
    let (x0, x1) = (BAR_MARGIN, BAR_MARGIN + BAR_WIDTH);
    let height = f64::from(bottom - top);
    let y_of = |v: f64| bottom - ((v - lo) / span * height).round() as i32;
    let steps = (bottom - top).clamp(1, 256);
    for k in 0..steps {
        let (y1, y0) = (
            bottom - (height * f64::from(k) / f64::from(steps)).round() as i32,
            bottom - (height * f64::from(k + 1) / f64::from(steps)).round() as i32,
        );
        let (cr, cg, cb) = color(cmap, (f64::from(k) + 0.5) / f64::from(steps));
        bar.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            RGBColor(cr, cg, cb).filled(),
        ))
        .map_err(err)?;
    }
    bar.draw(&Rectangle::new([(x0, top), (x1, bottom)], BLACK))
        .map_err(err)?;
    if text {
        let style = BAR_FONT
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (v, label) in ticks {
            let y = y_of(*v);
            bar.draw(&PathElement::new([(x1, y), (x1 + BAR_TICK, y)], BLACK))
                .map_err(err)?;
            bar.draw(&Text::new(label.as_str(), (x1 + BAR_TICK + 3, y), &style))
                .map_err(err)?;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rightmost column of `png` that holds a dark (text or tick) pixel.
    fn rightmost_dark(png: &Path) -> (u32, u32) {
        let img = image::open(png).unwrap().to_rgb8();
        let dark = |x, y| img.get_pixel(x, y).0.iter().all(|&c| c < 90);
        let right = (0..img.width())
            .rev()
            .find(|&x| (0..img.height()).any(|y| dark(x, y)))
            .unwrap();
        (right, img.width())
    }

    #[test]
    fn colour_bar_labels_are_drawn_inside_the_image() {
        assert!(
            font_ready(),
            "no sans-serif font found (install fonts-dejavu-core)"
        );
        let dir = tempfile::tempdir().unwrap();
        for (lo, hi) in [
            (0.0, 80.0),
            (-1234.5, 98765.25),
            (0.000_12, 0.000_31),
            (-3e9, 7e9),
        ] {
            let field = Field {
                rows: 8,
                cols: 8,
                data: (0..64)
                    .map(|i| lo + (hi - lo) * f64::from(i) / 63.0)
                    .collect(),
            };
            let out = dir.path().join("bar.png");
            let plot = Plot::Heatmap {
                fields: &[("f", &field)],
                cmap: "viridis",
                range: None,
            };
            export(&plot, "labels", &out, (640, 400)).unwrap();
            let (right, width) = rightmost_dark(&out);
            assert!(
                right + BAR_MARGIN as u32 / 2 < width,
                "range {lo}..{hi}: a label reaches column {right} of {width}"
            );
            let ticks = bar_ticks((lo, hi - lo));
            assert!(ticks.len() >= 2, "{ticks:?}");
            // labels differ from each other (enough decimals for the step)
            let mut texts: Vec<_> = ticks.iter().map(|(_, t)| t.clone()).collect();
            texts.dedup();
            assert_eq!(texts.len(), ticks.len(), "{ticks:?}");
        }
    }
}
