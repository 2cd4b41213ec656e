//! Plots as real images on terminals that can show them (kitty, sixel, iTerm2 protocols, through
//! ratatui-image), and the choice of protocol: the `--graphics` flag, else what the terminal
//! answers when asked (our own bounded query: it stops reading at its deadline and hands back
//! the keys typed meanwhile), else what its environment says, else the character renderers
//! (half-block heatmaps, braille lines), which stay first-class.

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
    let tmux = in_tmux(env);
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

/// With `--graphics auto` on a terminal: ask it which graphics it has (written to the terminal
/// after the frames drawn so far; read the answer with [`read_answer`]). False when nothing was
/// asked.
pub fn ask(flag: Graphics) -> bool {
    use std::io::IsTerminal;
    flag == Graphics::Auto
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && send_query(
            &mut crate::tui::FrameOut::default(),
            in_tmux(&|k| std::env::var(k).ok()),
        )
        .is_ok()
}

/// The picker for `flag` on this terminal, or None when plots are drawn with characters. The
/// protocol comes from [`choose`]: the flag, else the terminal's `answer`, else the environment.
/// The cell size in pixels from the answer, else the window size (TIOCGWINSZ), else 10x20.
pub fn picker(flag: Graphics, answer: &Answer) -> Option<Picker> {
    let proto = choose(flag, answer.protocol, &|k| std::env::var(k).ok())?;
    let fs = answer
        .cell
        .or_else(|| {
            crossterm::terminal::window_size()
                .ok()
                .filter(|w| w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
                .map(|w| (w.width / w.columns, w.height / w.rows))
        })
        .filter(|(x, y)| *x > 0 && *y > 0)
        .unwrap_or((10, 20));
    #[allow(deprecated)] // from_fontsize: the size is known; the query is our own
    let mut p = Picker::from_fontsize(fs.into());
    p.set_protocol_type(proto);
    Some(p)
}

/// How long the terminal gets to answer. Every terminal answers the status report that ends the
/// query, so this is waited out only where nothing answers (tmux without passthrough); keys typed
/// meanwhile are kept and handled after.
pub const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

fn in_tmux(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let has = |k: &str, pat: &str| env(k).is_some_and(|v| v.contains(pat));
    env("TMUX").is_some() || has("TERM", "tmux") || has("TERM", "screen")
}

/// What the terminal answered: the best pixel protocol it has (kitty before sixel), its cell
/// size in pixels, whether the answer is complete (the final status report came), and what was
/// typed meanwhile (the bytes outside any escape sequence).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answer {
    pub protocol: Option<ProtocolType>,
    pub cell: Option<(u16, u16)>,
    pub complete: bool,
    pub typed: Vec<u8>,
}

/// Ask the terminal which graphics it has: the kitty graphics query, device attributes for sixel,
/// the cell size, then a status report that every terminal answers (read the answer with
/// [`read_answer`]); wrapped for passthrough inside tmux.
pub fn send_query(out: &mut impl std::io::Write, is_tmux: bool) -> std::io::Result<()> {
    use ratatui_image::picker::cap_parser::{Parser, QueryStdioOptions};
    let q = Parser::query(is_tmux, QueryStdioOptions::default());
    out.write_all(q.as_bytes())?;
    out.flush()
}

/// Read the terminal's answer from `input` until its status report comes or `timeout` passes.
/// Unlike ratatui-image's own query, nothing keeps reading after this returns: a late answer or
/// a key pressed later is left to the TUI's event reader, and keys typed while waiting are
/// handed back in [`Answer::typed`].
pub fn read_answer(input: impl std::os::fd::AsFd, timeout: std::time::Duration) -> Answer {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + timeout;
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [PollFd::new(input.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(left.as_millis().max(1) as u64).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        match nix::unistd::read(input.as_fd(), &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
        if interpret(&got).complete {
            break;
        }
    }
    interpret(&got)
}

/// The terminal's answer from the bytes it sent.
pub fn interpret(bytes: &[u8]) -> Answer {
    use ratatui_image::picker::cap_parser::{Parser, Response};
    let mut parser = Parser::new();
    let mut a = Answer::default();
    for &b in bytes {
        for r in parser.push(b as char) {
            match r {
                Response::Kitty => a.protocol = Some(ProtocolType::Kitty),
                Response::Sixel if a.protocol.is_none() => a.protocol = Some(ProtocolType::Sixel),
                Response::CellSize(Some(c)) => a.cell = Some(c),
                Response::Status => a.complete = true,
                _ => {}
            }
        }
    }
    a.typed = outside_escapes(bytes);
    a
}

/// The bytes of `input` that are not part of an escape sequence (CSI up to its final byte; APC,
/// OSC, DCS, PM and SOS up to ST or BEL; any other ESC and the byte after it).
fn outside_escapes(input: &[u8]) -> Vec<u8> {
    #[derive(PartialEq)]
    enum St {
        Text,
        Esc,
        Csi,
        Str,
        StrEsc,
    }
    let mut st = St::Text;
    let mut out = Vec::new();
    for &b in input {
        st = match (st, b) {
            (St::Text, 0x1b) => St::Esc,
            (St::Text, _) => {
                out.push(b);
                St::Text
            }
            (St::Esc, b'[') => St::Csi,
            (St::Esc, b']' | b'_' | b'P' | b'^' | b'X') => St::Str,
            (St::Esc, _) => St::Text,
            (St::Csi, 0x40..=0x7e) => St::Text,
            (St::Csi, _) => St::Csi,
            (St::Str, 0x07) => St::Text,
            (St::Str, 0x1b) => St::StrEsc,
            (St::Str, _) => St::Str,
            (St::StrEsc, b'\\') => St::Text,
            (St::StrEsc, _) => St::Str,
        };
    }
    out
}

/// Typed bytes as the key events the TUI would have read: characters (capitals with Shift),
/// Enter, Tab, Backspace and Ctrl+letter.
pub fn typed_keys(typed: &[u8]) -> Vec<crossterm::event::KeyEvent> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    String::from_utf8_lossy(typed)
        .chars()
        .filter_map(|c| {
            Some(match c {
                '\r' | '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
                '\t' => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
                '\x7f' | '\x08' => KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE),
                '\x01'..='\x1a' => KeyEvent::new(
                    KeyCode::Char((b'a' + c as u8 - 1) as char),
                    KeyModifiers::CONTROL,
                ),
                c if c.is_control() => return None,
                c if c.is_uppercase() => KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
                c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            })
        })
        .collect()
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
    if d.rows == 0 || d.cols == 0 || d.data.len() < d.rows * d.cols {
        // nothing to draw (the readers refuse empty arrays; this never indexes one)
        return img;
    }
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
    /// Comparing two runs: the other run's field, drawn beside `proto` (each then fills half).
    pub other: Option<Protocol>,
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
    Ok(PlotImage {
        req,
        cells,
        proto: protocol(picker, field, cmap, range, cells)?,
        other: None,
    })
}

/// Two compared fields, each drawn at the pixel size of `half` (on one colour `range`), for a
/// plot area of `cells`.
pub fn encode_pair(
    picker: &Picker,
    req: u64,
    (a, b): (&Field, &Field),
    cmap: &str,
    range: (f64, f64),
    (cells, half): ((u16, u16), (u16, u16)),
) -> Result<PlotImage, String> {
    Ok(PlotImage {
        req,
        cells,
        proto: protocol(picker, a, cmap, range, half)?,
        other: Some(protocol(picker, b, cmap, range, half)?),
    })
}

fn protocol(
    picker: &Picker,
    field: &Field,
    cmap: &str,
    range: (f64, f64),
    cells: (u16, u16),
) -> Result<Protocol, String> {
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
    picker
        .new_protocol(
            image::DynamicImage::ImageRgb8(img),
            ratatui::layout::Size::new(cells.0, cells.1),
            ratatui_image::Resize::Fit(None),
        )
        .map_err(|e| format!("encoding the plot for the terminal: {e}"))
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

    /// Ask the terminal on `out` which graphics it has (the kitty graphics query, device attributes
    /// for sixel, the cell size, then a status report that every terminal answers), then read its
    /// answer from `input` ([`read_answer`]).
    fn query_terminal(
        input: impl std::os::fd::AsFd,
        out: &mut impl std::io::Write,
        is_tmux: bool,
        timeout: std::time::Duration,
    ) -> Answer {
        match send_query(out, is_tmux) {
            Ok(()) => read_answer(input, timeout),
            Err(_) => Answer::default(),
        }
    }

    const KITTY_OK: &[u8] = b"\x1b_Gi=31;OK\x1b\\";
    const DA1_SIXEL: &[u8] = b"\x1b[?62;4;22c";
    const DA1_PLAIN: &[u8] = b"\x1b[?62;22c";
    const CELL: &[u8] = b"\x1b[6;20;9t";
    const STATUS: &[u8] = b"\x1b[0n";

    #[test]
    fn terminal_replies_name_the_protocol_kitty_before_sixel() {
        let a = interpret(&[KITTY_OK, DA1_SIXEL, CELL, STATUS].concat());
        assert_eq!(a.protocol, Some(ProtocolType::Kitty));
        assert_eq!(a.cell, Some((9, 20)));
        assert!(a.complete);
        assert!(a.typed.is_empty());
        let a = interpret(&[DA1_SIXEL, STATUS].concat());
        assert_eq!((a.protocol, a.cell), (Some(ProtocolType::Sixel), None));
        // a kitty error reply and no sixel: no pixel protocol
        let a = interpret(&[b"\x1b_Gi=31;EINVAL:bad\x1b\\".as_slice(), DA1_PLAIN, STATUS].concat());
        assert_eq!(a.protocol, None);
        assert!(a.complete);
        // still waiting for the status report
        assert!(!interpret(KITTY_OK).complete);
        // what was typed between the replies is kept, the replies are not
        let a = interpret(
            &[
                b"j".as_slice(),
                KITTY_OK,
                b"Gq\r",
                DA1_PLAIN,
                b"\x03",
                STATUS,
            ]
            .concat(),
        );
        assert_eq!(a.typed, b"jGq\r\x03");
        use crossterm::event::{KeyCode, KeyModifiers};
        let keys: Vec<(KeyCode, KeyModifiers)> = typed_keys(&a.typed)
            .iter()
            .map(|k| (k.code, k.modifiers))
            .collect();
        assert_eq!(
            keys,
            [
                (KeyCode::Char('j'), KeyModifiers::NONE),
                (KeyCode::Char('G'), KeyModifiers::SHIFT),
                (KeyCode::Char('q'), KeyModifiers::NONE),
                (KeyCode::Enter, KeyModifiers::NONE),
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
            ]
        );
        // the answer takes its place in the fallback order: after the flag, before the environment
        let foot = env(&[("TERM", "foot")]);
        let kitty = interpret(&[KITTY_OK, STATUS].concat()).protocol;
        assert_eq!(
            choose(Graphics::Auto, kitty, &foot),
            Some(ProtocolType::Kitty)
        );
        let silent = interpret(b"").protocol;
        assert_eq!(
            choose(Graphics::Auto, silent, &foot),
            Some(ProtocolType::Sixel)
        );
        assert_eq!(
            choose(Graphics::Iterm2, kitty, &foot),
            Some(ProtocolType::Iterm2)
        );
    }

    /// A terminal on the other end of a socket: the query goes out, the answer comes back; a
    /// terminal that says nothing is waited for until the deadline only, and what it sends later
    /// is left unread (for the TUI's event reader), unlike ratatui-image's own query thread.
    #[test]
    fn the_query_reads_until_the_status_report_or_the_deadline_and_no_further() {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let (ours, mut term) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            let mut q = Vec::new();
            let mut b = [0u8; 256];
            while !q.ends_with(b"\x1b[5n") {
                let n = term.read(&mut b).unwrap();
                q.extend_from_slice(&b[..n]);
            }
            term.write_all(&[b"x".as_slice(), KITTY_OK, CELL, STATUS, b"after"].concat())
                .unwrap();
            q
        });
        let mut out = ours.try_clone().unwrap();
        let a = query_terminal(&ours, &mut out, false, std::time::Duration::from_secs(5));
        let q = t.join().unwrap();
        assert!(q.starts_with(b"\x1b_Gi=31,s=1,v=1,a=q"), "{q:?}");
        assert!(q.windows(4).any(|w| w == b"\x1b[16t".get(..4).unwrap()));
        assert_eq!(a.protocol, Some(ProtocolType::Kitty));
        assert_eq!(a.cell, Some((9, 20)));
        assert!(a.complete);
        // keys that came with the answer (before or after it in one read) are handed back
        assert_eq!(a.typed, b"xafter");

        // inside tmux the query is wrapped for passthrough
        let (ours2, mut term2) = UnixStream::pair().unwrap();
        let mut out2 = ours2.try_clone().unwrap();
        let t0 = std::time::Instant::now();
        let a = query_terminal(
            &ours2,
            &mut out2,
            true,
            std::time::Duration::from_millis(150),
        );
        assert!(t0.elapsed() >= std::time::Duration::from_millis(150));
        assert_eq!(a, Answer::default());
        let mut q = [0u8; 9];
        term2.read_exact(&mut q).unwrap();
        assert_eq!(&q, b"\x1bPtmux;\x1b\x1b");
        // a key pressed after the deadline stays for the TUI
        term2.write_all(b"q").unwrap();
        let mut k = [0u8; 1];
        let mut r = ours2;
        r.read_exact(&mut k).unwrap();
        assert_eq!(&k, b"q");
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
        assert!(img.other.is_none());
        // a compared pair: an image each, each fitted to its half
        let pair = encode_pair(
            &p,
            8,
            (&f, &f),
            "viridis",
            (0.0, 1799.0),
            ((40, 12), (20, 11)),
        )
        .unwrap();
        for proto in [&pair.proto, pair.other.as_ref().unwrap()] {
            let size = proto.size();
            assert!(size.width <= 20 && size.height <= 11, "{size:?}");
        }
        assert_eq!((pair.req, pair.cells), (8, (40, 12)));
    }
}
