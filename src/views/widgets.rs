//! Character renderers: a half-block heatmap (two field cells per terminal cell) and a colour bar.

use crate::plot::colormap::{color, NAN_COLOR};
use crate::plot::{downsample, Field};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Widget;

fn rgb(c: (u8, u8, u8)) -> Color {
    Color::Rgb(c.0, c.1, c.2)
}

/// A field drawn with `▀`: the upper half is one field cell (foreground), the lower another
/// (background). Row 0 of the field is at the bottom (y up). Keeps the field's aspect ratio.
pub struct Heatmap<'a> {
    pub field: &'a Field,
    pub cmap: &'a str,
    pub range: (f64, f64),
}

impl Heatmap<'_> {
    /// The terminal cells the field occupies inside `area` (aspect kept).
    pub fn fit(field: &Field, area: Rect) -> (u16, u16) {
        crate::plot::cells_for(field, area.width, area.height)
    }
}

impl Widget for Heatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 || self.field.data.is_empty() {
            return;
        }
        let (cols, rows) = Heatmap::fit(self.field, area);
        // a field read for this area is drawn as it is: no averaging (and no waiting for rayon's
        // threads) in the frame
        let small = self.field.rows <= rows as usize * 2 && self.field.cols <= cols as usize;
        let averaged;
        let d = if small {
            self.field
        } else {
            averaged = downsample(self.field, rows as usize * 2, cols as usize);
            &averaged
        };
        let (lo, hi) = self.range;
        let span = if hi > lo { hi - lo } else { 1.0 };
        let col = |v: f64| {
            if v.is_finite() {
                rgb(color(self.cmap, (v - lo) / span))
            } else {
                rgb(NAN_COLOR)
            }
        };
        for y in 0..rows.min(d.rows.div_ceil(2) as u16) {
            // terminal row y shows field rows (top first) r_top and r_top - 1, y up
            let r_top = d.rows - 1 - (y as usize * 2);
            let r_bot = r_top.checked_sub(1);
            for x in 0..cols.min(d.cols as u16) {
                let up = d.data[r_top * d.cols + x as usize];
                let cell = &mut buf[(area.x + x, area.y + y)];
                cell.set_symbol("▀");
                match r_bot {
                    Some(rb) => cell.set_style(
                        Style::default()
                            .fg(col(up))
                            .bg(col(d.data[rb * d.cols + x as usize])),
                    ),
                    None => cell.set_style(Style::default().fg(col(up))),
                };
            }
        }
    }
}

/// A vertical colour bar with the range's ends and middle labelled.
pub struct ColorBar<'a> {
    pub cmap: &'a str,
    pub range: (f64, f64),
    pub label_style: Style,
}

impl Widget for ColorBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width < 2 {
            return;
        }
        let h = area.height as usize;
        for y in 0..h {
            // two colours per row, top = high
            let t_up = 1.0 - (2 * y) as f64 / (2 * h - 1).max(1) as f64;
            let t_dn = 1.0 - (2 * y + 1) as f64 / (2 * h - 1).max(1) as f64;
            for x in 0..2.min(area.width) {
                let cell = &mut buf[(area.x + x, area.y + y as u16)];
                cell.set_symbol("▀");
                cell.set_style(
                    Style::default()
                        .fg(rgb(color(self.cmap, t_up)))
                        .bg(rgb(color(self.cmap, t_dn))),
                );
            }
        }
        if area.width > 3 {
            let (lo, hi) = self.range;
            let lw = area.width - 3;
            let mut put = |y: usize, v: f64| {
                buf.set_stringn(
                    area.x + 3,
                    area.y + y as u16,
                    crate::fmt::sci(v),
                    lw as usize,
                    self.label_style,
                );
            };
            put(0, hi);
            if h >= 5 {
                put(h / 2, (lo + hi) / 2.0);
            }
            put(h - 1, lo);
        }
    }
}
