//! The fast path of [`super::interpret`]: what most styled lines hold (colours, carriage-return
//! redraws, erase to the line's end, sequences that are dropped) read straight from the bytes,
//! without the cells of a terminal line. Anything else answers None and the cells decide; a test
//! in the parent checks the two agree on generated lines.

use super::{is_control, sgr, Look, Shown, Span, Style};

/// The line as it shows, where the fast path can read it.
pub(super) fn read(line: &[u8]) -> Option<Shown> {
    FAST.with_borrow_mut(|f| f.read(line))
}

/// A line read by [`Fast::read`] is made of segments, each written from the line's start (after
/// a carriage return): where each one's text and spans are in the scratch, its width in columns.
#[derive(Clone, Copy, Default)]
struct Segment {
    text: (usize, usize),
    spans: (usize, usize),
    cols: usize,
    ascii: bool,
    /// It erased the line from where it stood to its end: nothing before it shows.
    erased: bool,
}

/// The fast path's scratch, kept between lines.
#[derive(Default)]
pub(super) struct Fast {
    text: String,
    spans: Vec<Span>,
    segments: Vec<Segment>,
    /// What shows, in column order: a segment and the byte of its text it shows from.
    pieces: Vec<(usize, usize)>,
    out: Vec<Span>,
}

thread_local! {
    static FAST: std::cell::RefCell<Fast> = std::cell::RefCell::new(Fast::default());
}

/// A styled span `start..end`, joined to the last one of `spans[from..]` where it goes on with
/// the same style (as the cells of a terminal line would have it).
fn push_span(spans: &mut Vec<Span>, from: usize, start: u32, end: u32, style: Style) {
    if spans.len() > from {
        if let Some(last) = spans.last_mut() {
            if last.end == start && last.style == style {
                last.end = end;
                return;
            }
        }
    }
    spans.push(Span { start, end, style });
}

impl Fast {
    /// The line as the cells ([`super::interpret`]'s terminal model) show it, where it is valid UTF-8 and holds nothing but text,
    /// SGR, carriage returns, erase to the line's end and sequences that are dropped; else None
    /// (the cells decide). Equal to what the cells give: a test compares them on generated lines.
    pub(super) fn read(&mut self, line: &[u8]) -> Option<Shown> {
        let text = std::str::from_utf8(line).ok()?;
        let b = line;
        self.text.clear();
        self.spans.clear();
        self.segments.clear();
        let mut style = Style::default();
        let mut interpreted = false;
        let mut seg = Segment {
            ascii: true,
            ..Default::default()
        };
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                0x1b => {
                    interpreted = true;
                    if b.get(i + 1) != Some(&b'[') {
                        return None;
                    }
                    let mut j = i + 2;
                    while j < b.len() && (0x30..=0x3f).contains(&b[j]) {
                        j += 1;
                    }
                    let params_end = j;
                    while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                        j += 1;
                    }
                    let fin = *b.get(j).filter(|f| (0x40..=0x7e).contains(*f))?;
                    // parameters and intermediates are ASCII: on character boundaries
                    let params = &text[i + 2..params_end];
                    let private = params.starts_with(['?', '<', '=', '>']);
                    match fin {
                        b'm' if !private && params_end == j => sgr(&mut style, params),
                        b'K' if !private => {
                            let mode = params.split(';').next().and_then(|p| p.parse().ok());
                            if mode.unwrap_or(0u32) != 0 {
                                return None;
                            }
                            seg.erased = true;
                        }
                        // moves along the line: the cells'
                        b'C' | b'D' | b'G' | b'`' => return None,
                        // redraw only: dropped
                        _ => {}
                    }
                    i = j + 1;
                }
                b'\r' => {
                    interpreted = true;
                    seg.text.1 = self.text.len();
                    seg.spans.1 = self.spans.len();
                    self.segments.push(seg);
                    seg = Segment {
                        text: (self.text.len(), 0),
                        spans: (self.spans.len(), 0),
                        ascii: true,
                        ..Default::default()
                    };
                    i += 1;
                }
                c if c < 0x20 || c == 0x7f => return None,
                _ => {
                    let mut j = i;
                    while j < b.len() && b[j] >= 0x20 && b[j] != 0x7f {
                        // (a lead byte: on a character boundary) C1 controls and bidi
                        // overrides are the cells' to show escaped
                        if (b[j] == 0xc2 || b[j] == 0xe2)
                            && text[j..].chars().next().is_some_and(is_control)
                        {
                            return None;
                        }
                        j += 1;
                    }
                    // ends before an ASCII byte or at the end: on character boundaries
                    let run = &text[i..j];
                    let start = self.text.len() as u32;
                    self.text.push_str(run);
                    if run.is_ascii() {
                        seg.cols += run.len();
                    } else {
                        seg.ascii = false;
                        seg.cols += run.chars().count();
                    }
                    if !style.is_plain() {
                        let end = self.text.len() as u32;
                        push_span(&mut self.spans, seg.spans.0, start, end, style);
                    }
                    i = j;
                }
            }
        }
        if !interpreted {
            // text only (a non-ASCII character made the first look doubt it)
            return Some(Shown {
                text: text.to_string(),
                look: None,
            });
        }
        seg.text.1 = self.text.len();
        seg.spans.1 = self.spans.len();
        self.segments.push(seg);
        // each column shows the newest segment that reached it; one that erased hides all
        // before it
        self.pieces.clear();
        let mut covered = 0;
        for (k, sg) in self.segments.iter().enumerate().rev() {
            if sg.cols > covered {
                let own = &self.text[sg.text.0..sg.text.1];
                let from = if sg.ascii {
                    covered
                } else {
                    own.char_indices()
                        .nth(covered)
                        .map_or(own.len(), |(at, _)| at)
                };
                self.pieces.push((k, sg.text.0 + from));
                covered = sg.cols;
            }
            if sg.erased {
                break;
            }
        }
        let len: usize = self
            .pieces
            .iter()
            .map(|&(k, from)| self.segments[k].text.1 - from)
            .sum();
        let mut shown = String::with_capacity(len);
        self.out.clear();
        for &(k, from) in &self.pieces {
            let sg = self.segments[k];
            let base = shown.len();
            shown.push_str(&self.text[from..sg.text.1]);
            for sp in &self.spans[sg.spans.0..sg.spans.1] {
                let a = (sp.start as usize).max(from);
                let e = sp.end as usize;
                if e > a {
                    let at = |x: usize| (x - from + base) as u32;
                    push_span(&mut self.out, 0, at(a), at(e), sp.style);
                }
            }
        }
        // trailing blanks without a background are not part of the line
        while shown.ends_with(' ') {
            let at = (shown.len() - 1) as u32;
            let last = self.out.last_mut().filter(|sp| sp.end > at);
            if last.as_ref().is_some_and(|sp| sp.style.bg.is_some()) {
                break;
            }
            shown.pop();
            if let Some(sp) = last {
                sp.end = at;
                if sp.start == sp.end {
                    self.out.pop();
                }
            }
        }
        Some(Shown {
            text: shown,
            look: Some(Box::new(Look {
                spans: self.out.as_slice().into(),
                bytes: line.into(),
            })),
        })
    }
}
