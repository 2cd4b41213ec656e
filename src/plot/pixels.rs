//! Plots as real images on terminals that can show them (kitty, sixel, iTerm2 protocols, through
//! ratatui-image), and the choice of protocol: the `--graphics` flag, else what the terminal
//! answers when asked, else what its environment says, else the character renderers (half-block
//! heatmaps, braille lines), which stay first-class.

use super::Field;
pub use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;

/// `--graphics`: how plots reach the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Graphics {
    /// Ask the terminal, then look at its environment; characters when nothing fits.
    #[default]
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    /// Characters: half-block heatmaps and braille line charts.
    Halfblocks,
    /// The same character renderers (line charts are braille either way).
    Braille,
}

/// The pixel protocol to use, or None for the character renderers. In order: the flag; the
/// terminal's answer to the query (`queried`, when it found a pixel protocol); the environment
/// (`env`: kitty's TERM or window id outside tmux, iTerm2-compatible TERM_PROGRAM or LC_TERMINAL,
/// foot and mlterm for sixel); else None.
pub fn choose(
    flag: Graphics,
    queried: Option<ProtocolType>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ProtocolType> {
    match flag {
        Graphics::Kitty => return Some(ProtocolType::Kitty),
        Graphics::Sixel => return Some(ProtocolType::Sixel),
        Graphics::Iterm2 => return Some(ProtocolType::Iterm2),
        Graphics::Halfblocks | Graphics::Braille => return None,
        Graphics::Auto => {}
    }
    if let Some(q) = queried.filter(|q| *q != ProtocolType::Halfblocks) {
        return Some(q);
    }
    let has = |k: &str, pat: &str| env(k).is_some_and(|v| v.contains(pat));
    let tmux = env("TMUX").is_some() || has("TERM", "tmux") || has("TERM", "screen");
    if !tmux && (has("TERM", "kitty") || env("KITTY_WINDOW_ID").is_some()) {
        return Some(ProtocolType::Kitty);
    }
    if ["iTerm", "WezTerm", "mintty", "vscode"]
        .iter()
        .any(|p| has("TERM_PROGRAM", p))
        || has("LC_TERMINAL", "iTerm")
    {
        return Some(ProtocolType::Iterm2);
    }
    if has("TERM", "foot") || has("TERM", "mlterm") {
        return Some(ProtocolType::Sixel);
    }
    None
}

/// The picker for `flag` on this terminal, or None when plots are drawn with characters. The
/// protocol comes from [`choose`] with the flag and the environment; the font size from the
/// terminal's window size in pixels (TIOCGWINSZ), else 10x20.
///
/// The terminal is not queried on stdin: ratatui-image's query runs on a thread that, when the
/// terminal does not answer within its timeout, keeps reading stdin (eating the first keys) and
/// then puts the terminal back in cooked mode under the TUI. tmux's own test sessions showed it.
pub fn picker(flag: Graphics) -> Option<Picker> {
    let proto = choose(flag, None, &|k| std::env::var(k).ok())?;
    let fs = crossterm::terminal::window_size()
        .ok()
        .filter(|w| w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
        .map(|w| (w.width / w.columns, w.height / w.rows))
        .filter(|(x, y)| *x > 0 && *y > 0)
        .unwrap_or((10, 20));
    #[allow(deprecated)] // from_fontsize: the size is known without a stdin query
    let mut p = Picker::from_fontsize(fs.into());
    p.set_protocol_type(proto);
    Some(p)
}

/// A field drawn as pixels: `px` = (width, height), block-averaged down (or repeated up), first
/// row at the bottom as in the character heatmap; NaN and inf cells in the NaN colour.
pub fn field_image(
    field: &Field,
    cmap: &str,
    range: (f64, f64),
    px: (u32, u32),
) -> image::RgbImage {
    let (w, h) = (px.0.max(1) as usize, px.1.max(1) as usize);
    let (lo, hi) = range;
    let span = if hi > lo { hi - lo } else { 1.0 };
    // average blocks when the field is larger than the image, else sample
    let d = if field.rows > h || field.cols > w {
        super::downsample(field, h.min(field.rows), w.min(field.cols))
    } else {
        field.clone()
    };
    let mut img = image::RgbImage::new(w as u32, h as u32);
    for (y, row) in img.rows_mut().enumerate() {
        let fr = (d.rows - 1) - (y * d.rows / h).min(d.rows - 1);
        for (x, px) in row.enumerate() {
            let fc = (x * d.cols / w).min(d.cols - 1);
            let v = d.data[fr * d.cols + fc];
            let (r, g, b) = if v.is_finite() {
                super::colormap::color(cmap, (v - lo) / span)
            } else {
                super::colormap::NAN_COLOR
            };
            *px = image::Rgb([r, g, b]);
        }
    }
    img
}

/// A plot encoded for the terminal's protocol, for a plot area of `cells`.
#[derive(Clone)]
pub struct PlotImage {
    /// The plot request it was made for.
    pub req: u64,
    /// The area (columns, rows) it was made for.
    pub cells: (u16, u16),
    pub proto: Protocol,
}

impl std::fmt::Debug for PlotImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PlotImage {{ req: {}, cells: {:?} }}",
            self.req, self.cells
        )
    }
}

impl PartialEq for PlotImage {
    fn eq(&self, o: &Self) -> bool {
        self.req == o.req && self.cells == o.cells
    }
}

/// Draw `field` at the pixel size of `cells` on this terminal and encode it (run off the UI task:
/// sixel encoding of a large area takes tens of milliseconds).
pub fn encode(
    picker: &Picker,
    req: u64,
    field: &Field,
    cmap: &str,
    range: (f64, f64),
    cells: (u16, u16),
) -> Result<PlotImage, String> {
    let fs = picker.font_size();
    // the field's aspect, fitted into the area's pixels
    let (aw, ah) = (
        cells.0 as f64 * fs.width as f64,
        cells.1 as f64 * fs.height as f64,
    );
    let scale = (aw / field.cols.max(1) as f64).min(ah / field.rows.max(1) as f64);
    let px = (
        ((field.cols as f64 * scale) as u32).max(1),
        ((field.rows as f64 * scale) as u32).max(1),
    );
    let img = field_image(field, cmap, range, px);
    let proto = picker
        .new_protocol(
            image::DynamicImage::ImageRgb8(img),
            ratatui::layout::Size::new(cells.0, cells.1),
            ratatui_image::Resize::Fit(None),
        )
        .map_err(|e| format!("encoding the plot for the terminal: {e}"))?;
    Ok(PlotImage { req, cells, proto })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_flag_then_the_terminal_then_the_environment_then_characters() {
        let none = env(&[]);
        let kitty_env = env(&[("TERM", "xterm-kitty")]);
        // the flag wins over everything
        assert_eq!(
            choose(Graphics::Sixel, Some(ProtocolType::Kitty), &kitty_env),
            Some(ProtocolType::Sixel)
        );
        assert_eq!(
            choose(Graphics::Halfblocks, Some(ProtocolType::Kitty), &kitty_env),
            None
        );
        assert_eq!(choose(Graphics::Braille, None, &none), None);
        // the terminal's answer over the environment
        assert_eq!(
            choose(Graphics::Auto, Some(ProtocolType::Sixel), &kitty_env),
            Some(ProtocolType::Sixel)
        );
        // a halfblocks answer means: the terminal said nothing useful
        assert_eq!(
            choose(Graphics::Auto, Some(ProtocolType::Halfblocks), &kitty_env),
            Some(ProtocolType::Kitty)
        );
        // the environment
        assert_eq!(
            choose(Graphics::Auto, None, &env(&[("KITTY_WINDOW_ID", "3")])),
            Some(ProtocolType::Kitty)
        );
        assert_eq!(
            choose(Graphics::Auto, None, &env(&[("TERM_PROGRAM", "WezTerm")])),
            Some(ProtocolType::Iterm2)
        );
        assert_eq!(
            choose(Graphics::Auto, None, &env(&[("LC_TERMINAL", "iTerm2")])),
            Some(ProtocolType::Iterm2)
        );
        assert_eq!(
            choose(Graphics::Auto, None, &env(&[("TERM", "foot")])),
            Some(ProtocolType::Sixel)
        );
        // inside tmux a stale kitty window id is not trusted
        assert_eq!(
            choose(
                Graphics::Auto,
                None,
                &env(&[("KITTY_WINDOW_ID", "3"), ("TMUX", "/tmp/t,1,0")])
            ),
            None
        );
        // nothing: characters
        assert_eq!(
            choose(Graphics::Auto, None, &env(&[("TERM", "xterm-256color")])),
            None
        );
    }

    #[test]
    fn field_pixels_put_the_maximum_where_it_is_and_nan_in_its_colour() {
        // 4 x 8 field, maximum at row 3 (top), column 6; a NaN at row 0, column 0
        let mut data: Vec<f64> = vec![0.0; 32];
        data[3 * 8 + 6] = 10.0;
        data[0] = f64::NAN;
        let f = Field {
            rows: 4,
            cols: 8,
            data,
        };
        let img = field_image(&f, "gray", (0.0, 10.0), (80, 40));
        let hot = image::Rgb(<[u8; 3]>::from(super::super::colormap::color("gray", 1.0)));
        let (mut sx, mut sy, mut n) = (0u64, 0u64, 0u64);
        for (x, y, p) in img.enumerate_pixels() {
            if *p == hot {
                sx += x as u64;
                sy += y as u64;
                n += 1;
            }
        }
        assert_eq!(n, 100, "one field cell is 10x10 pixels");
        assert_eq!(
            (sx / n, sy / n),
            (64, 4),
            "top row (field row 3), seventh column"
        );
        let nan = image::Rgb(<[u8; 3]>::from(super::super::colormap::NAN_COLOR));
        assert_eq!(*img.get_pixel(0, 39), nan, "field row 0 is the bottom row");
        // a 4096-wide field is averaged down to the pixels asked for
        let big = Field {
            rows: 64,
            cols: 4096,
            data: (0..64 * 4096).map(|i| (i % 4096) as f64).collect(),
        };
        let img = field_image(&big, "gray", (0.0, 4095.0), (200, 10));
        assert_eq!(img.dimensions(), (200, 10));
    }

    #[test]
    fn encoding_fits_the_area() {
        let f = Field {
            rows: 30,
            cols: 60,
            data: (0..1800).map(f64::from).collect(),
        };
        let p = Picker::halfblocks();
        let img = encode(&p, 7, &f, "viridis", (0.0, 1799.0), (40, 12)).unwrap();
        let size = img.proto.size();
        assert!(size.width <= 40 && size.height <= 12, "{size:?}");
        assert_eq!((img.req, img.cells), (7, (40, 12)));
    }
}
