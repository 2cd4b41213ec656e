//! A log line read as a terminal would show it, safely. Programs print colours and redraw progress
//! bars (tqdm, curl, pip, docker); a log viewer that shows those bytes escaped is safe but
//! unreadable. Here SGR colours and attributes become styles (data the views draw, never bytes
//! sent on); a carriage return overwrites from the line's start, as on a terminal, so a progress
//! bar shows its last state; erase-in-line erases; moves along the line move the cursor; moves off
//! the line and other sequences that only redraw a display are dropped; an OSC 8 hyperlink keeps
//! its text. Everything else that could act on a terminal (title and clipboard writes, DCS, APC,
//! other C1 controls, bidi overrides, a stray ESC) is shown escaped, as `sanitize` shows it. What
//! comes out holds no control character at all.

mod fast;

/// A colour as a program asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Color {
    /// The terminal's 16 colours: 0-7 (black, red, green, yellow, blue, magenta, cyan, white),
    /// 8-15 their bright forms.
    Basic(u8),
    /// The 256-colour palette.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

pub const BOLD: u8 = 1;
pub const DIM: u8 = 2;
pub const ITALIC: u8 = 4;
pub const UNDERLINE: u8 = 8;
pub const REVERSE: u8 = 16;
pub const STRIKE: u8 = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Style {
    pub fg: Option<Color>,
    pub bg: Option<Color>,
    /// [`BOLD`], [`DIM`], [`ITALIC`], [`UNDERLINE`], [`REVERSE`], [`STRIKE`].
    pub attrs: u8,
}

impl Style {
    pub fn is_plain(&self) -> bool {
        *self == Style::default()
    }
}

/// A styled part of a line's text: bytes `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub style: Style,
}

/// What a line held besides plain text: the styled parts of what it shows, and its bytes as
/// read, for the raw view (escaped by [`raw`] only when shown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Look {
    pub spans: Box<[Span]>,
    pub bytes: Box<[u8]>,
}

impl Look {
    /// The raw form: every byte that is not plain text escaped, nothing acted on.
    pub fn raw(&self) -> String {
        raw(&self.bytes)
    }
}

/// What a line shows: its text, and its look where it held more than plain text (`None` for the
/// plain lines most logs are made of, which then cost nothing more).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    pub look: Option<Box<Look>>,
}

impl Shown {
    pub fn spans(&self) -> &[Span] {
        self.look.as_ref().map_or(&[], |l| &l.spans)
    }
}

/// A line longer than this is cut (the rest is dropped with a marker) so one runaway line cannot
/// stall the view.
pub const MAX_LINE: usize = 64 * 1024;

/// One log line (without its newline) as read from a file or a log event: a trailing CR (a CRLF
/// line end) dropped, cut at [`MAX_LINE`] bytes with a note of the rest, then interpreted.
pub fn log_line(line: &[u8]) -> Shown {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() <= MAX_LINE {
        return interpret(line);
    }
    let mut cut = MAX_LINE;
    // not inside a UTF-8 sequence
    while cut > 0 && (line[cut] & 0xc0) == 0x80 {
        cut -= 1;
    }
    let mut s = interpret(&line[..cut]);
    s.text
        .push_str(&format!(" … [{} more bytes]", line.len() - cut));
    if let Some(l) = s.look.as_mut() {
        let mut b = std::mem::take(&mut l.bytes).into_vec();
        b.extend_from_slice(format!(" … [{} more bytes]", line.len() - cut).as_bytes());
        l.bytes = b.into();
    }
    s
}

/// Tab stops, as `sanitize` sets them.
const TAB: usize = super::sanitize::TAB_STOP;

/// Whether `b` may start something that is not plain text: a C0 control, DEL, or the first byte
/// of a C1 control (U+0080-U+009F) or a bidi override (U+202A-U+202E, U+2066-U+2069).
#[inline]
fn maybe_special(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2
}

/// One line (without its newline) as it shows.
pub fn interpret(line: &[u8]) -> Shown {
    if !line.iter().any(|&b| maybe_special(b)) {
        if let Ok(s) = std::str::from_utf8(line) {
            return Shown {
                text: s.to_string(),
                look: None,
            };
        }
    }
    // what most styled lines hold (colours, carriage-return redraws, erase to the line's end)
    // is read straight from the bytes; the rest goes through the cells of a terminal's line
    if let Some(shown) = fast::read(line) {
        return shown;
    }
    // the decoded characters and the cells are scratch reused line after line (two allocations
    // a line less: the reader and the UI share one allocator)
    let mut shown = SCRATCH.with_borrow_mut(|(chars, cells)| {
        let mut screen = Screen {
            cells: std::mem::take(cells),
            ..Default::default()
        };
        let shown = screen.run(line, chars);
        *cells = std::mem::take(&mut screen.cells);
        shown
    });
    if let Some(l) = shown.look.as_mut() {
        l.bytes = line.into();
    }
    shown
}

/// A line's decoded characters and its cells, kept between lines.
type Scratch = (Vec<char>, Vec<(char, Style)>);

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// The line as a terminal holds it: a cell per column.
#[derive(Default)]
struct Screen {
    cells: Vec<(char, Style)>,
    col: usize,
    style: Style,
    interpreted: bool,
}

impl Screen {
    fn put(&mut self, c: char, style: Style) {
        if self.col > self.cells.len() {
            self.cells.resize(self.col, (' ', Style::default()));
        }
        if self.col == self.cells.len() {
            self.cells.push((c, style));
        } else {
            self.cells[self.col] = (c, style);
        }
        self.col += 1;
    }

    /// Text shown as it is, not acted on (an escaped control, say).
    fn show(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c, Style::default());
        }
    }

    fn run(&mut self, line: &[u8], chars: &mut Vec<char>) -> Shown {
        // decoded as far as it is UTF-8; invalid bytes are shown as \xNN
        chars.clear();
        self.cells.clear();
        if chars.capacity() > 4 * MAX_LINE {
            // one huge line does not keep its scratch forever
            *chars = Vec::new();
        }
        let mut invalid: Vec<(usize, u8)> = Vec::new();
        for chunk in line.utf8_chunks() {
            chars.extend(chunk.valid().chars());
            for &b in chunk.invalid() {
                invalid.push((chars.len(), b));
                chars.push('\u{fffd}');
            }
        }
        let mut bad = invalid.into_iter().peekable();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if bad.peek().is_some_and(|(at, _)| *at == i) {
                let (_, b) = bad.next().unwrap_or_default();
                self.interpreted = true;
                self.show(&format!("\\x{b:02x}"));
                i += 1;
                continue;
            }
            match c {
                '\u{1b}' => {
                    self.interpreted = true;
                    i = self.escape(chars, i);
                    continue;
                }
                '\r' => {
                    self.interpreted = true;
                    self.col = 0;
                }
                '\u{8}' => {
                    self.interpreted = true;
                    self.col = self.col.saturating_sub(1);
                }
                '\t' => {
                    self.interpreted = true;
                    let next = (self.col / TAB + 1) * TAB;
                    while self.col < next {
                        let style = self.style;
                        self.put(' ', style);
                    }
                }
                c if is_control(c) => {
                    self.interpreted = true;
                    self.show(&escaped(c));
                }
                c => {
                    let style = self.style;
                    self.put(c, style);
                }
            }
            i += 1;
        }
        self.finish()
    }

    /// A sequence starting with ESC at `chars[i]`: acted on, dropped or shown escaped; where the
    /// next character is.
    fn escape(&mut self, chars: &[char], i: usize) -> usize {
        match chars.get(i + 1) {
            Some('[') => self.csi(chars, i),
            Some(']') => self.osc(chars, i),
            // DCS, SOS, PM, APC: strings a terminal would take in; shown, up to their end
            Some('P' | 'X' | '^' | '_') => {
                let end = string_end(chars, i + 2);
                self.show(&escaped_seq(&chars[i..end]));
                end
            }
            // charset designations (`tput sgr0` prints ESC ( B) and the cursor's save and
            // restore, keypad modes, index: redraw only
            Some('(' | ')' | '*' | '+') if i + 2 < chars.len() => i + 3,
            Some('7' | '8' | '=' | '>' | 'M' | 'D' | 'E') => i + 2,
            // a stray ESC
            _ => {
                self.show("\\e");
                i + 1
            }
        }
    }

    /// CSI: SGR styles, erase in line, moves along the line; other CSI sequences dropped. One cut
    /// short (no final byte) is shown.
    fn csi(&mut self, chars: &[char], i: usize) -> usize {
        let mut j = i + 2;
        while j < chars.len() && ('\u{30}'..='\u{3f}').contains(&chars[j]) {
            j += 1;
        }
        let params_end = j;
        while j < chars.len() && ('\u{20}'..='\u{2f}').contains(&chars[j]) {
            j += 1;
        }
        let Some(&fin) = chars.get(j).filter(|c| ('\u{40}'..='\u{7e}').contains(*c)) else {
            self.show(&escaped_seq(&chars[i..j.min(chars.len())]));
            return j.min(chars.len());
        };
        // the parameters are ASCII: gathered on the stack (no allocation per sequence)
        let mut buf = [0u8; 64];
        let long: String;
        let params: &str = if params_end - (i + 2) <= buf.len() {
            for (k, c) in chars[i + 2..params_end].iter().enumerate() {
                buf[k] = *c as u8;
            }
            std::str::from_utf8(&buf[..params_end - (i + 2)]).unwrap_or_default()
        } else {
            long = chars[i + 2..params_end].iter().collect();
            &long
        };
        let private = params.starts_with(['?', '<', '=', '>']);
        let n = |d: usize| -> usize {
            params
                .split(';')
                .next()
                .and_then(|p| p.parse().ok())
                .filter(|v| *v > 0)
                .unwrap_or(d)
        };
        match fin {
            'm' if !private && params_end == j => sgr(&mut self.style, params),
            'K' if !private => match n(0) {
                0 => self.cells.truncate(self.col),
                1 => {
                    for c in self.cells.iter_mut().take(self.col + 1) {
                        *c = (' ', Style::default());
                    }
                }
                _ => self.cells.clear(),
            },
            // forward, back, to a column: moves along the line
            'C' => self.col += n(1),
            'D' => self.col = self.col.saturating_sub(n(1)),
            'G' | '`' => self.col = n(1) - 1,
            // anything else (up, down, positions, erase in display, modes, scrolling): dropped
            _ => {}
        }
        j + 1
    }

    /// OSC: a hyperlink (OSC 8) is dropped and its text kept; any other (title, clipboard,
    /// palette) is shown escaped.
    fn osc(&mut self, chars: &[char], i: usize) -> usize {
        let end = string_end(chars, i + 2);
        let body: String = chars[i + 2..end]
            .iter()
            .take_while(|c| **c != '\u{7}' && **c != '\u{1b}')
            .collect();
        if !(body.starts_with("8;") && body.matches(';').count() >= 2) {
            self.show(&escaped_seq(&chars[i..end]));
        }
        end
    }

    fn finish(&mut self) -> Shown {
        let cells = &mut self.cells;
        // (a line of text only is shown as it is, trailing blanks and all, as the plain path
        // shows it)
        while self.interpreted
            && cells
                .last()
                .is_some_and(|(c, st)| *c == ' ' && st.bg.is_none())
        {
            cells.pop();
        }
        let mut text = String::with_capacity(cells.len());
        let mut spans: Vec<Span> = Vec::new();
        for &(c, st) in cells.iter() {
            let start = text.len() as u32;
            text.push(c);
            let end = text.len() as u32;
            if st.is_plain() {
                continue;
            }
            match spans.last_mut() {
                Some(last) if last.end == start && last.style == st => last.end = end,
                _ => spans.push(Span {
                    start,
                    end,
                    style: st,
                }),
            }
        }
        let look = self.interpreted.then(|| {
            Box::new(Look {
                spans: spans.into(),
                bytes: Box::default(),
            })
        });
        Shown { text, look }
    }
}

/// Select Graphic Rendition: `;`-separated parameters; a colour is `38;5;N`, `38;2;R;G;B`, or
/// in one parameter with `:` (`38:5:N`, `38:2::R:G:B`, `38:2:R:G:B`).
fn sgr(style: &mut Style, params: &str) {
    if !params.contains(':') {
        return sgr_plain(style, params);
    }
    // (not empty: it holds a `:`)
    let params: Vec<&str> = params.split(';').collect();
    let num = |x: &str| x.parse::<u16>().unwrap_or(0);
    let mut k = 0;
    while k < params.len() {
        let subs: Vec<u16> = params[k].split(':').map(num).collect();
        let s = &mut *style;
        match subs[0] {
            v @ (38 | 48) => {
                let color = if subs.len() > 1 {
                    // one parameter: 38:5:N, 38:2:R:G:B, 38:2:ID:R:G:B
                    match subs[1..] {
                        [5, n, ..] => Some(Color::Indexed(n.min(255) as u8)),
                        [2, _, r, g, b, ..] | [2, r, g, b] => Some(Color::Rgb(
                            r.min(255) as u8,
                            g.min(255) as u8,
                            b.min(255) as u8,
                        )),
                        _ => None,
                    }
                } else {
                    let rest: Vec<u16> = params[k + 1..].iter().map(|x| num(x)).collect();
                    let (color, used) = extended(&rest);
                    k += used;
                    color
                };
                set_extended(s, v, color);
            }
            v => apply_sgr(s, v),
        }
        k += 1;
    }
}

/// SGR without `:` sub-parameters (nearly all of them): the numbers read onto the stack.
fn sgr_plain(style: &mut Style, params: &str) {
    let mut nums = [0u16; 32];
    let mut n = 0;
    for p in params.split(';') {
        if n < nums.len() {
            nums[n] = p.parse::<u16>().unwrap_or(0);
            n += 1;
        }
    }
    let nums = &nums[..n.max(1)];
    let mut k = 0;
    while k < nums.len() {
        let s = &mut *style;
        match nums[k] {
            v @ (38 | 48) => {
                let (color, used) = extended(&nums[k + 1..]);
                k += used;
                set_extended(s, v, color);
            }
            v => apply_sgr(s, v),
        }
        k += 1;
    }
}

/// An extended colour (`v` 38: foreground, 48: background); one that could not be read changes
/// nothing.
fn set_extended(s: &mut Style, v: u16, color: Option<Color>) {
    if v == 38 {
        s.fg = color.or(s.fg);
    } else {
        s.bg = color.or(s.bg);
    }
}

/// One SGR code other than the extended colours (38, 48): an attribute or a basic colour set or
/// reset; unknown codes change nothing.
fn apply_sgr(s: &mut Style, v: u16) {
    match v {
        0 => *s = Style::default(),
        1 => s.attrs |= BOLD,
        2 => s.attrs |= DIM,
        3 => s.attrs |= ITALIC,
        4 => s.attrs |= UNDERLINE,
        7 => s.attrs |= REVERSE,
        9 => s.attrs |= STRIKE,
        21 | 22 => s.attrs &= !(BOLD | DIM),
        23 => s.attrs &= !ITALIC,
        24 => s.attrs &= !UNDERLINE,
        27 => s.attrs &= !REVERSE,
        29 => s.attrs &= !STRIKE,
        30..=37 => s.fg = Some(Color::Basic((v - 30) as u8)),
        90..=97 => s.fg = Some(Color::Basic((v - 90 + 8) as u8)),
        39 => s.fg = None,
        40..=47 => s.bg = Some(Color::Basic((v - 40) as u8)),
        100..=107 => s.bg = Some(Color::Basic((v - 100 + 8) as u8)),
        49 => s.bg = None,
        _ => {}
    }
}

/// `38;5;N` or `38;2;R;G;B` (the colour space id of `38:2:ID:R:G:B` tolerated): the colour and
/// how many parameters after the 38 it took.
fn extended(p: &[u16]) -> (Option<Color>, usize) {
    match p {
        [5, n, ..] => (Some(Color::Indexed((*n).min(255) as u8)), 2),
        [2, r, g, b, ..] => {
            let c = |v: u16| v.min(255) as u8;
            (Some(Color::Rgb(c(*r), c(*g), c(*b))), 4)
        }
        _ => (None, p.len().min(1)),
    }
}

/// Where a string sequence (OSC, DCS, APC, …) starting at `from` ends: after its BEL or ST
/// (ESC \), or at the line's end.
fn string_end(chars: &[char], from: usize) -> usize {
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '\u{7}' | '\u{9c}' => return j + 1,
            '\u{1b}' if chars.get(j + 1) == Some(&'\\') => return j + 2,
            _ => j += 1,
        }
    }
    chars.len()
}

/// Whether `c` must not reach a terminal as it is (what `sanitize` escapes, less the ones this
/// module acts on).
fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A control character as `sanitize` shows it.
fn escaped(c: char) -> String {
    let mut s = String::new();
    super::sanitize::escape_into(c, &mut s);
    s
}

/// A sequence shown as text: its controls escaped, the rest as it is.
fn escaped_seq(chars: &[char]) -> String {
    chars
        .iter()
        .map(|&c| {
            if is_control(c) {
                escaped(c)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The line as the raw view shows it: every byte that is not plain text escaped, nothing acted on.
pub fn raw(line: &[u8]) -> String {
    super::sanitize_bytes(line)
}

/// `text` with its styles as SGR sequences made from them (never the bytes the line came with),
/// for a terminal: what `tandem logs` prints there.
pub fn to_sgr(text: &str, spans: &[Span]) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + spans.len() * 12);
    let mut at = 0;
    for sp in spans {
        let (a, b) = (sp.start as usize, sp.end as usize);
        let (Some(before), Some(part)) = (text.get(at..a), text.get(a..b)) else {
            continue;
        };
        out.push_str(before);
        out.push_str("\x1b[");
        out.push_str(&sgr_params(&sp.style));
        out.push('m');
        out.push_str(part);
        out.push_str("\x1b[0m");
        at = b;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

fn sgr_params(st: &Style) -> String {
    let mut p: Vec<String> = Vec::new();
    for (bit, code) in [
        (BOLD, 1),
        (DIM, 2),
        (ITALIC, 3),
        (UNDERLINE, 4),
        (REVERSE, 7),
        (STRIKE, 9),
    ] {
        if st.attrs & bit != 0 {
            p.push(code.to_string());
        }
    }
    for (c, fg) in [(st.fg, true), (st.bg, false)] {
        let base = if fg { 30 } else { 40 };
        match c {
            Some(Color::Basic(n)) if n < 8 => p.push((base + n as u16).to_string()),
            Some(Color::Basic(n)) => p.push((base + 60 + (n as u16 - 8)).to_string()),
            Some(Color::Indexed(n)) => p.push(format!("{};5;{n}", base + 8)),
            Some(Color::Rgb(r, g, b)) => p.push(format!("{};2;{r};{g};{b}", base + 8)),
            None => {}
        }
    }
    if p.is_empty() {
        "0".into()
    } else {
        p.join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        interpret(b).text
    }

    #[test]
    fn plain_text_is_taken_as_it_is() {
        let s = interpret("plain ünïcode line".as_bytes());
        assert_eq!(s.text, "plain ünïcode line");
        assert!(s.look.is_none());
    }

    #[test]
    fn colours_become_styles_and_leave_no_escape() {
        let s =
            interpret(b"\x1b[31m\xf0\x9f\x9a\xa8 Error:\x1b[0m disk \x1b[1;38;5;208mfull\x1b[m");
        assert_eq!(s.text, "🚨 Error: disk full");
        assert!(!s.text.contains('\u{1b}'));
        assert_eq!(s.spans().len(), 2, "{:?}", s.spans());
        assert_eq!(s.spans()[0].style.fg, Some(Color::Basic(1)));
        assert_eq!(
            &s.text[s.spans()[0].start as usize..s.spans()[0].end as usize],
            "🚨 Error:"
        );
        let full = s.spans()[1];
        assert_eq!(&s.text[full.start as usize..full.end as usize], "full");
        assert_eq!(full.style.fg, Some(Color::Indexed(208)));
        assert_eq!(full.style.attrs, BOLD);
        // 24-bit, bright, background, the `:` form
        let s = interpret(b"\x1b[38;2;10;20;30;103mx\x1b[39;49m \x1b[38:2::1:2:3my");
        assert_eq!(s.spans()[0].style.fg, Some(Color::Rgb(10, 20, 30)));
        assert_eq!(s.spans()[0].style.bg, Some(Color::Basic(11)));
        assert_eq!(s.spans()[1].style.fg, Some(Color::Rgb(1, 2, 3)));
    }

    #[test]
    fn a_progress_bar_shows_its_last_state() {
        // tqdm: carriage returns between redraws, the cursor hidden and shown
        let t = text(b"\x1b[?25l  0%|          | 0/10\r 50%|#####     | 5/10\r100%|##########| 10/10\x1b[?25h");
        assert_eq!(t, "100%|##########| 10/10");
        // a shorter redraw keeps what it did not cover, unless erased
        assert_eq!(text(b"downloading 100%\rdone"), "doneloading 100%");
        assert_eq!(text(b"downloading 100%\r\x1b[Kdone"), "done");
        // docker: up one line, erase it, redraw
        assert_eq!(
            text(b"\x1b[1A\x1b[2K\r07e62ecb726a: Preparing \r\x1b[1B"),
            "07e62ecb726a: Preparing"
        );
        // curl's meter
        assert_eq!(
            text(b"  0     0    0     0\r100  1234  100  1234"),
            "100  1234  100  1234"
        );
    }

    #[test]
    fn styles_are_written_back_as_sgr_made_here() {
        let s = interpret(b"\x1b[1;31mred\x1b[0m plain \x1b[38;2;1;2;3;48;5;9mrgb\x1b]0;t\x07");
        let out = to_sgr(&s.text, s.spans());
        assert_eq!(
            out,
            "\x1b[1;31mred\x1b[0m plain \x1b[38;2;1;2;3;48;5;9mrgb\x1b[0m\\e]0;t\\x07"
        );
        // read again, it shows the same
        assert_eq!(interpret(out.as_bytes()).text, s.text);
    }

    #[test]
    fn hyperlinks_keep_their_text() {
        let t = text(b"see \x1b]8;;https://example.org/\x1b\\the docs\x1b]8;;\x1b\\ now");
        assert_eq!(t, "see the docs now");
    }

    #[test]
    fn what_could_act_on_a_terminal_is_shown_escaped() {
        // a title write, a clipboard write, DCS, APC, C1, bidi, a stray ESC, BEL
        let t = text(b"a\x1b]0;pwned\x07b\x1b]52;c;ZXZpbA==\x07c");
        assert_eq!(t, "a\\e]0;pwned\\x07b\\e]52;c;ZXZpbA==\\x07c");
        assert_eq!(text(b"\x1bPq#0;2;0;0;0\x1b\\x"), "\\ePq#0;2;0;0;0\\e\\x");
        assert_eq!(text(b"\x1b_Gf=100;AAAA\x1b\\y"), "\\e_Gf=100;AAAA\\e\\y");
        assert_eq!(text("x\u{9b}31m".as_bytes()), "x\\u{9b}31m");
        assert_eq!(text("ab\u{202e}cd".as_bytes()), "ab\\u{202e}cd");
        assert_eq!(text(b"\x1bZ\x07"), "\\eZ\\x07");
        assert_eq!(text(b"cut \x1b[3"), "cut \\e[3");
        assert_eq!(text(b"bad \xff"), "bad \\xff");
        for t in [
            text(b"\x1b[2J\x1b[Hx"),
            text(b"\x1b]0;t\x07\x1b[?1049h\x1b[6n"),
            text(b"\x1b\x1b\x1b[[[m"),
        ] {
            assert!(!t.contains('\u{1b}') && !t.chars().any(is_control), "{t:?}");
        }
        assert_eq!(
            text(b"\x1b[2J\x1b[Hx"),
            "x",
            "erase and positions are dropped"
        );
    }

    /// What the cells of a terminal line give, without the fast path.
    fn by_cells(line: &[u8]) -> Shown {
        let mut chars = Vec::new();
        let mut shown = Screen::default().run(line, &mut chars);
        if let Some(l) = shown.look.as_mut() {
            l.bytes = line.into();
        }
        shown
    }

    #[test]
    fn the_fast_path_shows_what_the_cells_show() {
        let tokens: &[&str] = &[
            "abc",
            " ",
            "  ",
            "█",
            "▌",
            "é",
            "🚨",
            "\x1b[32m",
            "\x1b[0m",
            "\x1b[m",
            "\x1b[1;31m",
            "\x1b[41m",
            "\x1b[49m",
            "\x1b[38;5;208m",
            "\x1b[38:2::1:2:3m",
            "\x1b[K",
            "\x1b[0K",
            "\x1b[2K",
            "\x1b[1K",
            "\r",
            "\r",
            "\x1b[?25l",
            "\x1b[1A",
            "\x1b[3C",
            "\x1b[2G",
            "\t",
            "\x1b]0;t\x07",
            "\u{9b}",
            "\u{202e}",
            "\x1b[?1m",
            "\x1b[",
            "\x1b",
            "100%|",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let mut fast_taken = 0;
        for _ in 0..30_000 {
            let mut line = String::new();
            for _ in 0..next(14) {
                line.push_str(tokens[next(tokens.len())]);
            }
            let want = by_cells(line.as_bytes());
            if let Some(got) = fast::Fast::default().read(line.as_bytes()) {
                fast_taken += 1;
                assert_eq!(got, want, "{line:?}");
            }
            assert_eq!(interpret(line.as_bytes()), want, "{line:?}");
        }
        assert!(fast_taken > 5_000, "{fast_taken}");
    }

    #[test]
    fn tabs_backspaces_and_moves_along_the_line() {
        assert_eq!(text(b"a\tb"), "a   b", "tab stops as sanitize sets them");
        assert_eq!(text(b"abc\x08\x08X"), "aXc");
        assert_eq!(text(b"ab\x1b[3Cz"), "ab   z");
        assert_eq!(text(b"abcdef\x1b[3GZ"), "abZdef");
    }
}
